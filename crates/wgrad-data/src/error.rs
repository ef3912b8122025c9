use std::path::PathBuf;

/// Everything that can go wrong reading, fetching or unpacking a data set. Every variant that
/// concerns a file names it, so the message alone says which file to look at. The message
/// includes the underlying error (kept as `cause`, not as `source()`, so that error
/// reporters such as anyhow do not print it twice).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// The file was read but its contents are not what the format promises (wrong magic
    /// number, truncated, a length that disagrees with the header, out-of-range values).
    #[error("{}: {msg}", path.display())]
    Format {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// The file starts like gzip but does not decompress.
    #[error("{}: gzip error: {cause}", path.display())]
    Gzip {
        /// The offending file.
        path: PathBuf,
        /// flate2's description of the problem.
        cause: std::io::Error,
    },
    /// The file is not valid JSON, or not the expected JSON shape.
    #[error("{}: malformed JSON: {cause}", path.display())]
    Json {
        /// The offending file.
        path: PathBuf,
        /// serde_json's description (with line and column).
        cause: serde_json::Error,
    },
    /// A required file is not in the directory.
    #[error("{}: {what} not found", dir.display())]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The file(s) looked for.
        what: String,
    },
    /// A downloaded archive does not have the verified hash.
    #[error("{}: sha256 is {actual}, expected the verified {expected}", path.display())]
    Checksum {
        /// The archive.
        path: PathBuf,
        /// The verified hash, lowercase hex.
        expected: String,
        /// The hash of the file we have, lowercase hex.
        actual: String,
    },
    /// An external tool (a registry's client: pip, npm, apt-get; or dpkg-deb) is not installed.
    #[error("`{tool}` not found: {hint}")]
    ToolMissing {
        /// The program name.
        tool: String,
        /// How to get it or what to do instead.
        hint: String,
    },
    /// An external tool ran and failed.
    #[error(
        "`{command}` failed ({status}){}{}",
        if stderr.is_empty() { String::new() } else { format!(":\n{stderr}") },
        if hint.is_empty() { String::new() } else { format!("\n({hint})") }
    )]
    ToolFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of what it printed on stderr (and stdout).
        stderr: String,
        /// What to try, if we know; may be empty.
        hint: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Format`] for `path`.
    pub(crate) fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format { path: path.into(), msg: msg.into() }
    }

    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause }
    }
}
