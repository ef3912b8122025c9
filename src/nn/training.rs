//! Training checkpoints: the model, the optimizer's state and learning rate, how far the
//! run got, and the position of the random stream, in one safetensors file written
//! atomically, so that a run resumed from it continues exactly as the uninterrupted one.
//!
//! Layout of the file: tensors `model.<state-dict name>` (PyTorch names, so
//! `{k[6:]: v for k, v in f.items() if k.startswith("model.")}` is a PyTorch state dict)
//! and `optimizer.<name>` ([`Optimizer::state_dict`] names); header metadata
//! `wgrad.kind = training-checkpoint`, `wgrad.version = 1`, `epoch`, `step`, `lr`,
//! `rng_state`, and `extra.<key>` for each caller entry.

use super::checkpoint::{load_state_dict, state_dict};
use super::{Module, Optimizer};
use crate::{io, Device, Error, Result, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const KIND: &str = "training-checkpoint";
const VERSION: &str = "1";
const MODEL: &str = "model.";
const OPTIMIZER: &str = "optimizer.";
const EXTRA: &str = "extra.";

/// How far a training run got: saved with the model and optimizer by
/// [`TrainingCheckpoint::save`], returned by [`TrainingCheckpoint::load`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrainingCheckpoint {
    /// Epochs completed.
    pub epoch: u64,
    /// Optimizer steps taken (what a schedule's counter resumes from).
    pub step: u64,
    /// Free-form entries the caller wants back (best metric so far, a data-order seed, ...).
    pub extra: BTreeMap<String, String>,
}

impl TrainingCheckpoint {
    /// A checkpoint at `epoch` epochs and `step` optimizer steps, with no extra entries.
    pub fn new(epoch: u64, step: u64) -> TrainingCheckpoint {
        TrainingCheckpoint { epoch, step, extra: BTreeMap::new() }
    }

    /// Writes `model`'s state dict, `optimizer`'s state and learning rate, this progress
    /// and the current [`crate::get_rng_state`] to `path`, atomically (temp file, fsync,
    /// rename): `path` holds the previous checkpoint or the complete new one, never a mix.
    pub fn save<M, O>(&self, path: impl AsRef<Path>, model: &M, optimizer: &O) -> Result<()>
    where
        M: Module + ?Sized,
        O: Optimizer + ?Sized,
    {
        let mut tensors: Vec<(String, Tensor)> =
            state_dict(model).into_iter().map(|(n, t)| (format!("{MODEL}{n}"), t)).collect();
        tensors.extend(optimizer.state_dict().into_iter().map(|(n, t)| (format!("{OPTIMIZER}{n}"), t)));
        let mut meta = BTreeMap::from([
            ("wgrad.kind".to_string(), KIND.to_string()),
            ("wgrad.version".to_string(), VERSION.to_string()),
            ("epoch".to_string(), self.epoch.to_string()),
            ("step".to_string(), self.step.to_string()),
            // `{:?}` prints the shortest string that parses back to the same f64.
            ("lr".to_string(), format!("{:?}", optimizer.lr())),
            ("rng_state".to_string(), crate::get_rng_state().to_string()),
        ]);
        meta.extend(self.extra.iter().map(|(k, v)| (format!("{EXTRA}{k}"), v.clone())));
        io::save_safetensors_with_metadata(path, &tensors, &meta)
    }

    /// Restores a checkpoint written by [`TrainingCheckpoint::save`]: the model's
    /// parameters and buffers (moved to each one's device), the optimizer's state and
    /// learning rate, and the random stream's position; returns the progress. A file that
    /// is not such a checkpoint, or whose tensors do not fit `model` or `optimizer`, is an
    /// `Err` naming the file and every problem, and then nothing is changed.
    pub fn load<M, O>(path: impl AsRef<Path>, model: &M, optimizer: &mut O) -> Result<TrainingCheckpoint>
    where
        M: Module + ?Sized,
        O: Optimizer + ?Sized,
    {
        let path = path.as_ref();
        let source = path.display().to_string();
        let err = |msg: String| Error::Format(format!("{source}: {msg}"));
        let (tensors, meta) = io::load_safetensors_with_metadata(path, &Device::cpu())?;
        if meta.get("wgrad.kind").map(String::as_str) != Some(KIND) {
            return Err(err("not a wgrad training checkpoint (no wgrad.kind = training-checkpoint in its \
                 metadata; a plain state dict loads with Module::load)"
                .into()));
        }
        let field = |key: &str| meta.get(key).ok_or_else(|| err(format!("metadata has no {key:?}")));
        let version = field("wgrad.version")?;
        if version != VERSION {
            return Err(err(format!("training checkpoint version {version:?} is not {VERSION}")));
        }
        let int = |key: &str| -> Result<u64> {
            let v = field(key)?;
            v.parse().map_err(|_| err(format!("metadata {key:?} = {v:?} is not an unsigned integer")))
        };
        let lr = field("lr")?;
        let lr: f64 = lr.parse().map_err(|_| err(format!("metadata lr = {lr:?} is not a number")))?;
        let (epoch, step, rng_state) = (int("epoch")?, int("step")?, int("rng_state")?);

        let mut model_state = HashMap::new();
        let mut optimizer_state = HashMap::new();
        for (name, t) in tensors {
            if let Some(n) = name.strip_prefix(MODEL) {
                model_state.insert(n.to_string(), t);
            } else if let Some(n) = name.strip_prefix(OPTIMIZER) {
                optimizer_state.insert(n.to_string(), t);
            } else {
                return Err(err(format!("tensor {name:?} is neither model.* nor optimizer.*")));
            }
        }
        // Each load checks everything before changing anything; the optimizer's old state
        // is put back if the model then does not fit, so a failed load changes nothing.
        let previous = (optimizer.state_dict().into_iter().collect::<HashMap<_, _>>(), optimizer.lr());
        optimizer.load_state_dict(&optimizer_state).map_err(|e| err(format!("optimizer state: {e}")))?;
        if let Err(e) = load_state_dict(model, &model_state, &source) {
            optimizer.load_state_dict(&previous.0)?;
            optimizer.set_lr(previous.1);
            return Err(e);
        }
        optimizer.set_lr(lr);
        crate::set_rng_state(rng_state);
        let extra = meta.iter().filter_map(|(k, v)| Some((k.strip_prefix(EXTRA)?.to_string(), v.clone()))).collect();
        Ok(TrainingCheckpoint { epoch, step, extra })
    }
}
