//! Errors for everything that comes from outside the program: devices, data, files.
//! Programmer errors (shape mismatches) panic instead, naming the op and the shapes.

/// wgrad's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter could be created; `reasons` says why, per backend.
    #[error("no GPU adapter found: {reasons}")]
    NoAdapter { reasons: String },
    /// An environment variable holds a value wgrad does not understand.
    #[error("{var}={value} is not understood; expected one of {expected}")]
    BadEnv { var: &'static str, value: String, expected: &'static str },
    /// A tensor or buffer is larger than the device allows.
    #[error("{what} needs {bytes} bytes but the device allows at most {limit} bytes")]
    TooLarge { what: String, bytes: u64, limit: u64 },
    /// Device memory ran out: the memory limit set on the device
    /// (`Device::set_memory_limit`) or the driver's own; what was asked for and what the
    /// tensors already hold.
    #[error(
        "out of device memory: asked for {requested} bytes with {live} bytes live in tensors (limit {limit} bytes)"
    )]
    OutOfMemory { requested: u64, live: u64, limit: u64 },
    /// An index read from data (token id, class id, gather index) is out of range
    /// (negative i32 ids included, reported with their sign).
    #[error("{op}: index {index} is out of range for a dimension of size {size}")]
    IndexOutOfRange { op: &'static str, index: i64, size: u64 },
    /// The GPU runtime reported an error (validation, out of memory, device lost).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A tensor of one dtype was read as another.
    #[error("dtype mismatch: tensor is {actual}, asked for {expected}")]
    DTypeMismatch { expected: crate::DType, actual: crate::DType },
    /// I/O failure, with the path involved.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Anomaly detection found an op whose output holds NaN or infinity.
    #[error("anomaly: {op} produced {what} (inputs {inputs}, output shape {output})")]
    Anomaly { op: &'static str, what: &'static str, inputs: String, output: String },
    /// `backward()` was asked for gradients it cannot compute: the value depends on no
    /// tensor that requires grad (as PyTorch raises).
    #[error("backward: {0}")]
    Autograd(String),
    /// A malformed file or message.
    #[error("{0}")]
    Format(String),
    /// A data-parallel job's processes disagree (different models, a failed rank) or
    /// MPI cannot start.
    #[error("distributed: {0}")]
    Distributed(String),
}

/// `Result` with wgrad's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
