//! The digits CNN of the `mnist` demo in a web page: it classifies what a person draws with
//! the checkpoint the demo wrote, and trains a fresh CNN in the page, on WebGPU when the
//! browser has it and on wgrad's CPU backend otherwise.
//!
//! Everything the page computes lives here and compiles natively too: [`check_report`] is
//! what the browser test runs in the page and, natively on the CPU, as the reference it
//! compares with (`cargo xtask web --test`). The browser bindings are in `wasm.rs`.
//!
//! ```
//! let dev = wgrad::Device::cpu();
//! let training = wgrad_web::Training::new(&dev);
//! let p = training.classifier().probabilities(&[0.5; wgrad_web::PIXELS]).to_vec::<f32>().unwrap();
//! assert_eq!(p.len(), 10);
//! assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```

#[path = "../../../examples/common/seed_cnn.rs"]
mod seed_cnn;
#[cfg(target_arch = "wasm32")]
mod wasm;

use serde::{Deserialize, Serialize};
use std::path::Path;
use wgrad::functional as F;
use wgrad::nn;
use wgrad::{DType, Device, Error, Result, Tensor};

/// Pixels of one 28x28 digit, row by row, each in `[0, 1]`.
pub const PIXELS: usize = 28 * 28;
/// Digit classes.
pub const CLASSES: usize = 10;
/// Images per training step in the page.
pub const BATCH: usize = 64;
/// The page's Adam learning rate.
pub const LEARNING_RATE: f64 = 1e-3;
/// The seed of the page's fresh CNN (`wgrad::manual_seed`).
pub const SEED: u64 = 0;
/// Held-out digits the browser test classifies.
pub const CHECK_DIGITS: usize = 100;
/// Training steps the browser test runs.
pub const CHECK_STEPS: usize = 20;

/// Images and their labels.
#[derive(Clone, Debug, Default)]
pub struct Split {
    /// `len() * PIXELS` values in `[0, 1]`.
    pub images: Vec<f32>,
    /// One class in `0..10` per image.
    pub labels: Vec<u32>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// The page's data (`digits.safetensors`, written by the `web_assets` binary): training
/// images in the order the page trains on them, and held-out images.
#[derive(Clone, Debug, Default)]
pub struct Digits {
    /// What the page trains on, [`BATCH`] at a time in stored order (round and round).
    pub train: Split,
    /// What it never trains on.
    pub held_out: Split,
}

impl Digits {
    /// Parses `digits.safetensors`; a file of another shape is an `Err` saying what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Digits> {
        let path = Path::new("digits.safetensors");
        let (mut tensors, _) = wgrad::io::parse_safetensors(bytes, path, &Device::cpu())?;
        let mut split = |name: &str| -> Result<Split> {
            let missing = |what: &str| Error::Format(format!("{}: no tensor {name}_{what}", path.display()));
            let images = tensors.remove(&format!("{name}_images")).ok_or_else(|| missing("images"))?;
            let labels = tensors.remove(&format!("{name}_labels")).ok_or_else(|| missing("labels"))?;
            let split = Split { images: images.to_vec::<f32>()?, labels: labels.to_vec::<u32>()? };
            if split.images.len() != split.len() * PIXELS || split.labels.iter().any(|&l| l as usize >= CLASSES) {
                return Err(Error::Format(format!(
                    "{}: {name}: {} pixel values for {} labels (784 each, labels below 10)",
                    path.display(),
                    split.images.len(),
                    split.len()
                )));
            }
            Ok(split)
        };
        Ok(Digits { train: split("train")?, held_out: split("held_out")? })
    }

    /// The tensors `from_bytes` reads back, by name (for `wgrad::io::save_safetensors`).
    pub fn to_tensors(&self) -> Vec<(String, Tensor)> {
        let cpu = Device::cpu();
        let mut out = Vec::new();
        for (name, split) in [("train", &self.train), ("held_out", &self.held_out)] {
            let n = split.len();
            out.push((format!("{name}_images"), Tensor::from_vec(split.images.clone(), [n, PIXELS], &cpu)));
            out.push((format!("{name}_labels"), Tensor::from_vec(split.labels.clone(), [n], &cpu)));
        }
        out
    }
}

/// `n` images as the CNN's input, `[n, 1, 28, 28]`.
fn image_batch(images: &[f32], dev: &Device) -> Tensor {
    assert!(images.len().is_multiple_of(PIXELS), "{} values are not whole 28x28 images", images.len());
    Tensor::from_vec(images.to_vec(), [images.len() / PIXELS, 1, 28, 28], dev)
}

/// The seed CNN with weights: the `mnist` demo's checkpoint, or the one being trained.
pub struct Classifier {
    model: nn::Sequential,
    dev: Device,
}

impl Classifier {
    /// The CNN with the weights of a checkpoint (safetensors with PyTorch's names, as the
    /// `mnist` demo writes `mnist_cnn.safetensors`); missing or mis-shaped weights are an `Err`.
    pub fn load(checkpoint: &[u8], dev: &Device) -> Result<Classifier> {
        let (weights, _) = wgrad::io::parse_safetensors(checkpoint, Path::new("mnist_cnn.safetensors"), dev)?;
        let classifier = Classifier::untrained(dev);
        classifier.model.load_state_dict(&weights)?;
        Ok(classifier)
    }

    /// A freshly initialised CNN (from the current seed).
    pub fn untrained(dev: &Device) -> Classifier {
        Classifier { model: seed_cnn::seed_cnn(dev), dev: dev.clone() }
    }

    /// The class probabilities `[n, 10]` of `n` images (`n * PIXELS` values), not yet read
    /// back: `to_vec` natively, `to_vec_async` in a page.
    pub fn probabilities(&self, images: &[f32]) -> Tensor {
        let x = image_batch(images, &self.dev);
        wgrad::no_grad(|| F::softmax(&self.model.forward(&x), 1))
    }

    /// The most probable class (`U32`, `[n]`) of `n` images, not yet read back.
    pub fn classes(&self, images: &[f32]) -> Tensor {
        self.probabilities(images).argmax(1, false).cast(DType::U32)
    }
}

/// Training a fresh CNN in the page: seeded initialisation, Adam, [`BATCH`] images per step
/// in the stored order of [`Digits::train`].
pub struct Training {
    classifier: Classifier,
    optimizer: nn::Adam,
    steps: usize,
}

impl Training {
    /// A fresh CNN (seed [`SEED`]) and its optimizer on `dev`.
    pub fn new(dev: &Device) -> Training {
        wgrad::manual_seed(SEED);
        let classifier = Classifier::untrained(dev);
        let config = nn::AdamConfig { lr: LEARNING_RATE, ..Default::default() };
        let optimizer = nn::Adam::new(classifier.model.parameters(), config);
        Training { classifier, optimizer, steps: 0 }
    }

    /// One step on the next batch of `train`; returns the batch's mean loss, not yet read
    /// back (reading it is the only wait of the step).
    pub fn step(&mut self, train: &Split) -> Result<Tensor> {
        if train.len() < BATCH {
            return Err(Error::Format(format!("{} training images, fewer than a batch ({BATCH})", train.len())));
        }
        let batches = train.len() / BATCH;
        let first = (self.steps % batches) * BATCH;
        let x = image_batch(&train.images[first * PIXELS..(first + BATCH) * PIXELS], &self.classifier.dev);
        let y = Tensor::from_vec(train.labels[first..first + BATCH].to_vec(), [BATCH], &self.classifier.dev);
        let loss = F::cross_entropy(&self.classifier.model.forward(&x), &y, F::Reduction::Mean, 0.0);
        self.optimizer.step(&loss.backward()?)?;
        self.steps += 1;
        Ok(loss)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The CNN being trained.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }
}

/// The fraction of `labels` that `predicted` (from [`Classifier::classes`]) gets right.
pub fn accuracy(predicted: &[u32], labels: &[u32]) -> f64 {
    let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    right as f64 / labels.len().max(1) as f64
}

/// What the browser test compares between the page and the native CPU run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// The device that computed it (`Device::name`).
    pub device: String,
    /// The class probabilities of the first [`CHECK_DIGITS`] held-out digits with the
    /// checkpoint, row by row.
    pub probabilities: Vec<f32>,
    /// The losses of the first [`CHECK_STEPS`] steps of [`Training`].
    pub losses: Vec<f64>,
}

/// Runs the browser test's computations on `dev`: the checkpoint's probabilities of the
/// first [`CHECK_DIGITS`] held-out digits, and [`CHECK_STEPS`] training steps. Only reads
/// wait, asynchronously, so a page runs the same code as a native program.
pub async fn check_report(checkpoint: &[u8], digits: &Digits, dev: &Device) -> Result<Report> {
    let classifier = Classifier::load(checkpoint, dev)?;
    let n = CHECK_DIGITS.min(digits.held_out.len());
    // Every read is submitted when it is made and awaited after the last step, so the
    // steps run back to back instead of each waiting for its loss.
    let probabilities = classifier.probabilities(&digits.held_out.images[..n * PIXELS]).to_vec_async::<f32>();
    let mut training = Training::new(dev);
    let reads =
        (0..CHECK_STEPS).map(|_| Ok(training.step(&digits.train)?.to_scalar_async())).collect::<Result<Vec<_>>>()?;
    let mut losses = Vec::with_capacity(CHECK_STEPS);
    for read in reads {
        losses.push(read.await?);
    }
    Ok(Report { device: dev.name(), probabilities: probabilities.await?, losses })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(train: usize, held_out: usize) -> Digits {
        let split = |n: usize| Split {
            images: (0..n * PIXELS).map(|k| (k % 255) as f32 / 255.0).collect(),
            labels: (0..n as u32).map(|i| i % 10).collect(),
        };
        Digits { train: split(train), held_out: split(held_out) }
    }

    fn file_bytes(tensors: &[(String, Tensor)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digits.safetensors");
        wgrad::io::save_safetensors(&path, tensors).unwrap();
        std::fs::read(path).unwrap()
    }

    #[test]
    fn digits_read_back_what_was_written() {
        let written = digits(3, 2);
        let read = Digits::from_bytes(&file_bytes(&written.to_tensors())).unwrap();
        assert_eq!((read.train.images, read.train.labels), (written.train.images, written.train.labels));
        assert_eq!(read.held_out.labels, written.held_out.labels);
    }

    #[test]
    fn digits_of_the_wrong_shape_are_an_error() {
        let mut tensors = digits(3, 2).to_tensors();
        tensors.retain(|(name, _)| name != "held_out_labels");
        let e = Digits::from_bytes(&file_bytes(&tensors)).err().unwrap().to_string();
        assert!(e.contains("no tensor held_out_labels"), "{e}");
        let mut tensors = digits(3, 2).to_tensors();
        tensors[1].1 = Tensor::from_vec(vec![0u32, 1], [2], &Device::cpu()); // 3 images, 2 labels
        let e = Digits::from_bytes(&file_bytes(&tensors)).err().unwrap().to_string();
        assert!(e.contains("2352 pixel values for 2 labels"), "{e}");
        assert!(Digits::from_bytes(b"not a safetensors file").is_err());
    }

    #[test]
    fn training_starts_from_the_seeded_cnn_on_the_first_batch_and_needs_a_whole_batch() {
        let dev = Device::cpu();
        let data = digits(BATCH * 2, 0);
        let mut training = Training::new(&dev);
        assert!(training.step(&digits(BATCH - 1, 0).train).is_err());
        let losses: Vec<f64> = (0..3).map(|_| training.step(&data.train).unwrap().to_scalar().unwrap()).collect();
        assert_eq!(training.steps(), 3);
        assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0), "{losses:?}");
        // Step 1 is the fresh CNN of seed SEED on the first BATCH stored images.
        wgrad::manual_seed(SEED);
        let fresh = Classifier::untrained(&dev);
        let x = image_batch(&data.train.images[..BATCH * PIXELS], &dev);
        let y = Tensor::from_vec(data.train.labels[..BATCH].to_vec(), [BATCH], &dev);
        let first = F::cross_entropy(&fresh.model.forward(&x), &y, F::Reduction::Mean, 0.0);
        assert_eq!(first.to_scalar().unwrap(), losses[0]);
        assert_eq!(accuracy(&[1, 2, 3, 4], &[1, 0, 3, 0]), 0.5);
    }
}
