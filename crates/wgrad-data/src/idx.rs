//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic number `0x0000TTNN` (type
//! `TT`, here always `0x08` = unsigned byte; `NN` dimensions), `NN` big-endian `u32` sizes,
//! then the data, row-major. Files may be gzipped; we tell by the gzip magic bytes, not the
//! name.
//!
//! The header is never trusted: data is read up to the size it declares (plus one byte to
//! notice extra data), so a lying header costs no more memory than the file holds, and any
//! disagreement is an [`Error`] naming the file.
//!
//! ```
//! use wgrad_data::idx;
//! let bytes = idx::encode(&[2, 2, 3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
//! let images = idx::parse(&bytes, std::path::Path::new("in-memory"), 0x0000_0803)?;
//! assert_eq!(images.dims, [2, 2, 3]);
//! assert!(idx::parse(&bytes[..10], std::path::Path::new("cut"), 0x0000_0803).is_err());
//! # Ok::<(), wgrad_data::Error>(())
//! ```

use crate::{Error, Result};
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

const UBYTE: u32 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decoded IDX file of unsigned bytes: its dimensions and its data, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// The sizes from the header, outermost first (`[n]` for labels, `[n, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// Reads a labels file (magic `0x00000801`).
pub fn read_labels(path: impl AsRef<Path>) -> Result<Idx> {
    read(path.as_ref(), LABELS_MAGIC)
}

/// Reads an images file (magic `0x00000803`).
pub fn read_images(path: impl AsRef<Path>) -> Result<Idx> {
    read(path.as_ref(), IMAGES_MAGIC)
}

/// Reads an IDX file, raw or gzipped, whose magic number must be `magic`.
pub fn read(path: &Path, magic: u32) -> Result<Idx> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 2];
    let got = read_full(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
    file.rewind().map_err(|e| Error::io(path, e))?;
    if got == 2 && head == GZIP_MAGIC {
        decode(GzDecoder::new(BufReader::new(file)), path, magic, true)
    } else {
        decode(BufReader::new(file), path, magic, false)
    }
}

/// Decodes the bytes of an IDX file, raw or gzipped, as [`read`] does; `path` only names
/// the source in errors. Any byte string gives an [`Idx`] or an `Err`, and a lying header
/// never makes it allocate more than the data present (fuzzed: fuzz/fuzz_targets/idx.rs).
pub fn parse(bytes: &[u8], path: &Path, magic: u32) -> Result<Idx> {
    if bytes.starts_with(&GZIP_MAGIC) {
        decode(GzDecoder::new(bytes), path, magic, true)
    } else {
        decode(bytes, path, magic, false)
    }
}

/// Decodes an IDX stream; `path` only names the source in errors, and `gzip` says whether
/// read errors are decompression errors.
fn decode(mut r: impl Read, path: &Path, magic: u32, gzip: bool) -> Result<Idx> {
    let read_err = |e| if gzip { Error::Gzip { path: path.into(), cause: e } } else { Error::io(path, e) };
    let mut word = [0u8; 4];
    let got = read_full(&mut r, &mut word).map_err(read_err)?;
    if got < 4 {
        return Err(Error::format(path, format!("truncated: {got} bytes, too short for the 4-byte magic number")));
    }
    let found = u32::from_be_bytes(word);
    if found != magic {
        return Err(Error::format(
            path,
            format!("wrong magic number {found:#010x}, expected {magic:#010x} ({})", describe(magic)),
        ));
    }
    let ndims = (magic & 0xff) as usize;
    let mut dims = Vec::with_capacity(ndims);
    for i in 0..ndims {
        if read_full(&mut r, &mut word).map_err(read_err)? < 4 {
            return Err(Error::format(
                path,
                format!("truncated: the file ends inside the header (size {i} of {ndims})"),
            ));
        }
        dims.push(u32::from_be_bytes(word) as usize);
    }
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::format(path, format!("header sizes {dims:?} overflow")))?;
    let mut data = Vec::new();
    r.take(expected as u64 + 1).read_to_end(&mut data).map_err(read_err)?;
    if data.len() < expected {
        return Err(Error::format(
            path,
            format!(
                "truncated or wrong count: the header's sizes {dims:?} need {expected} data bytes, the file holds {}",
                data.len()
            ),
        ));
    }
    if data.len() > expected {
        return Err(Error::format(
            path,
            format!("wrong count: more data than the {expected} bytes the header's sizes {dims:?} declare"),
        ));
    }
    Ok(Idx { dims, data })
}

fn describe(magic: u32) -> String {
    let ndims = magic & 0xff;
    match magic >> 8 {
        UBYTE => format!("unsigned bytes, {ndims} dimension{}", if ndims == 1 { "" } else { "s" }),
        t => format!("type {t:#04x}, {ndims} dimensions"),
    }
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encodes unsigned bytes as an IDX file (magic `0x000008NN`, `NN = dims.len()`).
///
/// # Panics
/// If `data.len()` is not the product of `dims`, or a size or the number of dims does
/// not fit the header.
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    assert_eq!(dims.iter().product::<usize>(), data.len(), "IDX data length must be the product of the sizes");
    let ndims = u8::try_from(dims.len()).expect("at most 255 dimensions");
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, UBYTE as u8, ndims]);
    for &d in dims {
        out.extend_from_slice(&u32::try_from(d).expect("IDX sizes fit in u32").to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Writes unsigned bytes as an IDX file, gzipped if `gzip`. See [`encode`] for the panics.
pub fn write(path: impl AsRef<Path>, dims: &[usize], data: &[u8], gzip: bool) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode(dims, data);
    let io = |e| Error::io(path, e);
    let file = File::create(path).map_err(io)?;
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(&bytes).map_err(io)?;
        gz.finish().map_err(io)?;
    } else {
        let mut file = file;
        file.write_all(&bytes).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tmp(name: &str) -> PathBuf {
        thread_local!(static DIR: tempfile::TempDir = tempfile::tempdir().unwrap());
        DIR.with(|d| d.path().join(name))
    }

    fn images() -> (Vec<usize>, Vec<u8>) {
        let dims = vec![3, 4, 5];
        (dims, (0..60).map(|i| (i * 7 % 256) as u8).collect())
    }

    /// Asserts that reading `bytes` as images fails with a message naming the file and
    /// containing `needle`.
    fn assert_err(name: &str, bytes: &[u8], needle: &str) {
        let path = tmp(name);
        std::fs::write(&path, bytes).unwrap();
        let msg = read_images(&path).unwrap_err().to_string();
        assert!(msg.contains(&path.display().to_string()), "message does not name the file: {msg}");
        assert!(msg.contains(needle), "expected {needle:?} in: {msg}");
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let (dims, data) = images();
        for gz in [false, true] {
            let path = tmp(if gz { "rt.idx.gz" } else { "rt.idx" });
            write(&path, &dims, &data, gz).unwrap();
            assert_eq!(std::fs::read(&path).unwrap().starts_with(&GZIP_MAGIC), gz);
            assert_eq!(read_images(&path).unwrap(), Idx { dims: dims.clone(), data: data.clone() });
        }
        let labels: Vec<u8> = (0..10).collect();
        let path = tmp("labels.idx");
        write(&path, &[10], &labels, false).unwrap();
        assert_eq!(read_labels(&path).unwrap().data, labels);
    }

    #[test]
    fn wrong_magic() {
        let (dims, data) = images();
        let bytes = encode(&dims, &data);
        let path = tmp("magic2.idx");
        std::fs::write(&path, &bytes).unwrap();
        let msg = read_labels(&path).unwrap_err().to_string();
        assert!(
            msg.contains("wrong magic number 0x00000803, expected 0x00000801") && msg.contains("magic2.idx"),
            "{msg}"
        );
        let mut bad = bytes.clone();
        bad[2] = 0x0d; // float data
        assert_err("magic3.idx", &bad, "wrong magic number 0x00000d03");
    }

    #[test]
    fn truncated() {
        let (dims, data) = images();
        let bytes = encode(&dims, &data);
        assert_err("trunc0.idx", &bytes[..2], "too short for the 4-byte magic");
        assert_err("trunc1.idx", &bytes[..9], "ends inside the header");
        assert_err("trunc2.idx", &bytes[..bytes.len() - 1], "need 60 data bytes, the file holds 59");
        assert_err("trunc3.idx.gz", &gzip(&bytes[..30]), "need 60 data bytes, the file holds 14");
        // A gzip stream cut short is a decompression error.
        let gz = gzip(&bytes);
        assert_err("trunc4.idx.gz", &gz[..gz.len() / 2], "gzip error");
    }

    #[test]
    fn header_count_disagrees_with_data() {
        let (dims, data) = images();
        let mut bytes = encode(&dims, &data);
        bytes[4..8].copy_from_slice(&4_000_000_000u32.to_be_bytes()); // claims 4e9 images
        assert_err("count.idx", &bytes, "need 80000000000 data bytes, the file holds 60");
        assert_err("count.idx.gz", &gzip(&bytes), "need 80000000000 data bytes, the file holds 60");
        bytes[4..8].copy_from_slice(&2u32.to_be_bytes()); // claims fewer than there are
        assert_err("count2.idx", &bytes, "more data than the 40 bytes");
        let mut huge = encode(&dims, &data);
        for i in 0..3 {
            huge[4 + 4 * i..8 + 4 * i].copy_from_slice(&u32::MAX.to_be_bytes());
        }
        assert_err("overflow.idx", &huge, "overflow");
    }

    #[test]
    fn garbage_gzip() {
        let mut bytes = GZIP_MAGIC.to_vec();
        bytes.extend((0..100u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8));
        assert_err("garbage.idx.gz", &bytes, "gzip error");
    }

    #[test]
    fn missing_file_is_named() {
        let path = tmp("does-not-exist.idx");
        let msg = read_images(&path).unwrap_err().to_string();
        assert!(msg.contains("does-not-exist.idx"), "{msg}");
    }
}
