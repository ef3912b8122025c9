//! `wgrad::io`: tensors to and from safetensors files (the format PyTorch, JAX and
//! Hugging Face share). Writes are atomic; malformed files are an `Err` naming the file,
//! never a panic.
//!
//! ```
//! use wgrad::{io, Device, Tensor};
//! let dir = std::env::temp_dir().join(format!("wgrad-io-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("weights.safetensors");
//! let w = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &Device::cpu());
//! io::save_safetensors(&path, &[("layer.weight", w)][..])?;
//! let back = io::load_safetensors(&path, &Device::cpu())?;
//! assert_eq!(back["layer.weight"].to_vec::<f32>()?, [1.0, 2.0, 3.0, 4.0]);
//! # std::fs::remove_dir_all(dir).unwrap();
//! # Ok::<(), wgrad::Error>(())
//! ```

use crate::{DType, Device, Error, Result, Tensor};
use safetensors::{Dtype as StDtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use wgrad_cpu::CpuStorage;

/// Anything that lists named tensors: slices, arrays and vectors of `(name, tensor)`
/// pairs, and maps from names to tensors.
pub trait NamedTensors {
    /// The tensors with their names.
    fn named_tensors(&self) -> Vec<(&str, &Tensor)>;
}

impl<S: AsRef<str>> NamedTensors for [(S, Tensor)] {
    fn named_tensors(&self) -> Vec<(&str, &Tensor)> {
        self.iter().map(|(n, t)| (n.as_ref(), t)).collect()
    }
}

impl<S: AsRef<str>, const N: usize> NamedTensors for [(S, Tensor); N] {
    fn named_tensors(&self) -> Vec<(&str, &Tensor)> {
        self[..].named_tensors()
    }
}

impl<S: AsRef<str>> NamedTensors for Vec<(S, Tensor)> {
    fn named_tensors(&self) -> Vec<(&str, &Tensor)> {
        self[..].named_tensors()
    }
}

impl<S: AsRef<str>> NamedTensors for HashMap<S, Tensor> {
    fn named_tensors(&self) -> Vec<(&str, &Tensor)> {
        self.iter().map(|(n, t)| (n.as_ref(), t)).collect()
    }
}

impl<S: AsRef<str>> NamedTensors for BTreeMap<S, Tensor> {
    fn named_tensors(&self) -> Vec<(&str, &Tensor)> {
        self.iter().map(|(n, t)| (n.as_ref(), t)).collect()
    }
}

/// One tensor's bytes, ready to serialise.
struct Raw {
    dtype: StDtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> StDtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn format_err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Format(format!("{}: {msg}", path.display()))
}

/// Saves `tensors` to `path` as safetensors (header metadata `format: pt`, as
/// `safetensors.torch.save_file` writes). Reads every tensor back from its device
/// first, then writes atomically: to `<path>.tmp-<pid>`, fsync, rename over `path`,
/// fsync the directory (on Unix), so `path` holds either the old file or the complete
/// new one. Duplicate names are an `Err`.
pub fn save_safetensors(path: impl AsRef<Path>, tensors: &(impl NamedTensors + ?Sized)) -> Result<()> {
    save_safetensors_with_metadata(path, tensors, &BTreeMap::new())
}

/// [`save_safetensors`] with extra string entries in the header's `__metadata__` (what
/// `safe_open(...).metadata()` returns in Python), beside `format: pt`.
pub fn save_safetensors_with_metadata(
    path: impl AsRef<Path>,
    tensors: &(impl NamedTensors + ?Sized),
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let named = tensors.named_tensors();
    let mut raws: BTreeMap<&str, Raw> = BTreeMap::new();
    for (name, t) in named {
        let host = t.to_host()?;
        let dtype = match t.dtype() {
            DType::F32 => StDtype::F32,
            DType::F16 => StDtype::F16,
            DType::U32 => StDtype::U32,
            DType::I32 => StDtype::I32,
        };
        let data = wgrad_cpu::with_storage!(&host, v => bytemuck::cast_slice::<_, u8>(v).to_vec());
        let raw = Raw { dtype, shape: t.dims().to_vec(), data };
        if raws.insert(name, raw).is_some() {
            return Err(format_err(path, format_args!("cannot save: the name {name:?} appears twice")));
        }
    }
    let mut metadata: HashMap<String, String> = metadata.clone().into_iter().collect();
    metadata.insert("format".to_string(), "pt".to_string());
    let bytes = safetensors::serialize(raws.iter().map(|(n, r)| (*n, r)), Some(metadata))
        .map_err(|e| format_err(path, format_args!("cannot serialise: {e}")))?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically (see [`save_safetensors`]). Saves within one
/// process are serialised, so the temporary name `<path>.tmp-<pid>` is never shared.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static SAVING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = SAVING.lock().unwrap_or_else(|e| e.into_inner());
    let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
    let Some(file_name) = path.file_name() else {
        return Err(format_err(path, "cannot save: not a file path"));
    };
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        {
            // Closed before the rename (Windows cannot rename an open file).
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        if tmp.is_file() {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(io(e));
    }
    // The rename is durable once the directory entry is on disk. Unix only: on Windows
    // `File::open` of a directory fails (access denied), so a save there must not try;
    // the rename is then as durable as the file system makes it.
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

/// Loads every tensor of the safetensors file at `path` onto `device`. Dtypes F32, F16,
/// U32 and I32 load as they are; BF16 and F64 become F32; I64 (PyTorch's integer
/// default) becomes I32 when every value fits; F16 becomes F32 on a device without f16.
/// A missing, truncated or corrupt file (bad header, offsets out of range) or another
/// dtype is an `Err` naming the file.
pub fn load_safetensors(path: impl AsRef<Path>, device: &Device) -> Result<HashMap<String, Tensor>> {
    load_safetensors_with_metadata(path, device).map(|(tensors, _)| tensors)
}

/// [`load_safetensors`] that also returns the header's `__metadata__` entries.
pub fn load_safetensors_with_metadata(
    path: impl AsRef<Path>,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    parse_safetensors(&bytes, path, device)
}

/// Parses the bytes of a safetensors file as [`load_safetensors_with_metadata`] does;
/// `path` only names the source in errors. Any byte string gives tensors or an `Err`
/// (fuzzed: fuzz/fuzz_targets/safetensors.rs).
pub fn parse_safetensors(
    bytes: &[u8],
    path: &Path,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    // The parser validates lengths and offsets; the unwind guard is a second line of
    // defence so that no byte pattern can take the process down.
    let parsed = std::panic::catch_unwind(|| SafeTensors::deserialize(bytes))
        .map_err(|_| format_err(path, "not a valid safetensors file (malformed header)"))?
        .map_err(|e| format_err(path, format_args!("not a valid safetensors file: {e}")))?;
    let mut out = HashMap::new();
    for (name, view) in parsed.iter() {
        let storage = to_storage(view.dtype(), view.data())
            .map_err(|msg| format_err(path, format_args!("tensor {name:?}: {msg}")))?;
        let storage = match storage {
            CpuStorage::F16(v) if !device.supports_f16() => CpuStorage::F32(v.iter().map(|x| x.to_f32()).collect()),
            s => s,
        };
        let shape = crate::Shape::from(view.shape().to_vec());
        out.insert(name.to_string(), Tensor::from_host(storage, shape, device));
    }
    // The header parsed above, so reading its metadata again cannot fail.
    let metadata = SafeTensors::read_metadata(bytes).map(|(_, m)| m.metadata().clone().unwrap_or_default());
    Ok((out, metadata.unwrap_or_default()))
}

/// Converts little-endian bytes of a safetensors dtype to host storage.
fn to_storage(dtype: StDtype, data: &[u8]) -> std::result::Result<CpuStorage, String> {
    Ok(match dtype {
        StDtype::F32 => CpuStorage::F32(bytemuck::pod_collect_to_vec(data)),
        StDtype::F16 => CpuStorage::F16(bytemuck::pod_collect_to_vec(data)),
        StDtype::U32 => CpuStorage::U32(bytemuck::pod_collect_to_vec(data)),
        StDtype::I32 => CpuStorage::I32(bytemuck::pod_collect_to_vec(data)),
        StDtype::BF16 => {
            let v: Vec<half::bf16> = bytemuck::pod_collect_to_vec(data);
            CpuStorage::F32(v.into_iter().map(f32::from).collect())
        }
        StDtype::F64 => {
            let v: Vec<f64> = bytemuck::pod_collect_to_vec(data);
            CpuStorage::F32(v.into_iter().map(|x| x as f32).collect())
        }
        StDtype::I64 => {
            let v: Vec<i64> = bytemuck::pod_collect_to_vec(data);
            let narrowed = v
                .iter()
                .map(|&x| i32::try_from(x).map_err(|_| format!("I64 value {x} does not fit the I32 it loads as")))
                .collect::<std::result::Result<Vec<i32>, String>>()?;
            CpuStorage::I32(narrowed)
        }
        other => return Err(format!("dtype {other:?} is not supported (F32, F16, BF16, F64, U32, I32, I64 are)")),
    })
}
