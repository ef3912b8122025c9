//! Reading members of a zip archive (a Python wheel): the central directory at the end of
//! the file lists every member with the offset of its local header; members are stored or
//! deflated. Enough for wheels; no zip64, encryption or multi-disk archives.

use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// End-of-central-directory record signature and size (without its comment).
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
/// Central directory entry signature and fixed size.
const CDIR_SIG: u32 = 0x0201_4b50;
const CDIR_LEN: usize = 46;
/// Local file header signature and fixed size.
const LOCAL_SIG: u32 = 0x0403_4b50;
const LOCAL_LEN: usize = 30;

/// One member listed in the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its path inside the archive.
    pub name: String,
    method: u16,
    compressed: usize,
    size: usize,
    local_offset: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The members of the zip archive `bytes` (read from `path`, named in errors).
pub fn members(bytes: &[u8], path: &Path) -> Result<Vec<Member>> {
    let bad = |msg: &str| Error::format(path, format!("not a readable zip archive: {msg}"));
    // The EOCD record sits at the end, followed by a comment of at most 64 KiB.
    let lowest = bytes.len().saturating_sub(EOCD_LEN + 0xffff);
    let eocd = (lowest..=bytes.len().saturating_sub(EOCD_LEN))
        .rev()
        .find(|&at| u32_at(bytes, at) == Some(EOCD_SIG))
        .ok_or_else(|| bad("no end-of-central-directory record (truncated?)"))?;
    let count = u16_at(bytes, eocd + 10).ok_or_else(|| bad("short EOCD"))? as usize;
    let mut at = u32_at(bytes, eocd + 16).ok_or_else(|| bad("short EOCD"))? as usize;
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let entry = bytes.get(at..at + CDIR_LEN).ok_or_else(|| bad(&format!("central directory entry {k} cut off")))?;
        if u32_at(entry, 0) != Some(CDIR_SIG) {
            return Err(bad(&format!("central directory entry {k} has a wrong signature")));
        }
        let field16 = |o| u16_at(entry, o).unwrap_or(0) as usize;
        let field32 = |o| u32_at(entry, o).unwrap_or(0) as usize;
        let (name_len, extra_len, comment_len) = (field16(28), field16(30), field16(32));
        let name = bytes.get(at + CDIR_LEN..at + CDIR_LEN + name_len).ok_or_else(|| bad("member name cut off"))?;
        out.push(Member {
            name: String::from_utf8_lossy(name).into_owned(),
            method: field16(10) as u16,
            compressed: field32(20),
            size: field32(24),
            local_offset: field32(42),
        });
        at += CDIR_LEN + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// The uncompressed contents of `member` of the zip archive `bytes` (read from `path`).
pub fn read_member(bytes: &[u8], member: &Member, path: &Path) -> Result<Vec<u8>> {
    let bad = |msg: String| Error::format(path, format!("zip member {}: {msg}", member.name));
    let at = member.local_offset;
    if u32_at(bytes, at) != Some(LOCAL_SIG) {
        return Err(bad("local header missing or cut off".into()));
    }
    let name_len = u16_at(bytes, at + 26).unwrap_or(0) as usize;
    let extra_len = u16_at(bytes, at + 28).unwrap_or(0) as usize;
    let start = at + LOCAL_LEN + name_len + extra_len;
    let data =
        bytes.get(start..start + member.compressed).ok_or_else(|| bad("data cut off (truncated archive?)".into()))?;
    let out = match member.method {
        0 => data.to_vec(),
        8 => {
            let mut out = Vec::with_capacity(member.size);
            flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).map_err(|e| bad(format!("inflate: {e}")))?;
            out
        }
        m => return Err(bad(format!("compression method {m} is not supported (only stored and deflate)"))),
    };
    if out.len() != member.size {
        return Err(bad(format!("{} bytes after unpacking, the directory says {}", out.len(), member.size)));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A zip of `files`, the first stored and the rest deflated, as the zip tools write it.
    pub(crate) fn build_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let (mut out, mut dir) = (Vec::new(), Vec::new());
        for (k, (name, body)) in files.iter().enumerate() {
            let (method, data) = if k == 0 {
                (0u16, body.to_vec())
            } else {
                let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(body).unwrap();
                (8u16, enc.finish().unwrap())
            };
            let offset = out.len() as u32;
            let header = |sig: u32, central: bool, buf: &mut Vec<u8>| {
                buf.extend(sig.to_le_bytes());
                if central {
                    buf.extend(20u16.to_le_bytes());
                }
                buf.extend([20u16, 0, method, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
                buf.extend(0u32.to_le_bytes()); // crc, not checked
                buf.extend((data.len() as u32).to_le_bytes());
                buf.extend((body.len() as u32).to_le_bytes());
                buf.extend((name.len() as u16).to_le_bytes());
                buf.extend(0u16.to_le_bytes());
                if central {
                    buf.extend([0u16, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
                    buf.extend(0u32.to_le_bytes());
                    buf.extend(offset.to_le_bytes());
                }
                buf.extend(name.as_bytes());
            };
            header(LOCAL_SIG, false, &mut out);
            out.extend(&data);
            header(CDIR_SIG, true, &mut dir);
        }
        let dir_offset = out.len() as u32;
        out.extend(&dir);
        out.extend(EOCD_SIG.to_le_bytes());
        out.extend([0u16, 0, files.len() as u16, files.len() as u16].iter().flat_map(|v| v.to_le_bytes()));
        out.extend((dir.len() as u32).to_le_bytes());
        out.extend(dir_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_stored_and_deflated_members() {
        let text = b"hello hello hello hello zip".repeat(20);
        let zip = build_zip(&[("a/stored.txt", b"plain"), ("b/deflated.txt", &text)]);
        let path = Path::new("x.whl");
        let list = members(&zip, path).unwrap();
        assert_eq!(list.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["a/stored.txt", "b/deflated.txt"]);
        assert_eq!(read_member(&zip, &list[0], path).unwrap(), b"plain");
        assert_eq!(read_member(&zip, &list[1], path).unwrap(), text);
    }

    #[test]
    fn truncated_zip_is_an_error_naming_the_file() {
        let zip = build_zip(&[("a.txt", b"alpha"), ("b.txt", &b"beta".repeat(50))]);
        let path = Path::new("cut.whl");
        let msg = members(&zip[..zip.len() - 5], path).unwrap_err().to_string();
        assert!(msg.contains("cut.whl") && msg.contains("end-of-central-directory"), "{msg}");
        // Data cut off but directory intact: corrupt the deflated stream instead.
        let list = members(&zip, path).unwrap();
        let mut broken = zip.clone();
        let start = list[1].local_offset + LOCAL_LEN + 5;
        broken[start..start + 6].copy_from_slice(&[0xff; 6]);
        let msg = read_member(&broken, &list[1], path).unwrap_err().to_string();
        assert!(msg.contains("cut.whl") && msg.contains("b.txt"), "{msg}");
    }
}
