//! Helpers shared by the unit tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `wgrad-data-<tag>-<pid>-<counter>`.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("wgrad-data-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `n` images whose pixel 0 is the image's index (so `image[0] as usize` identifies it) and
/// whose label is `index % 10`.
pub fn synthetic(n: usize) -> crate::mnist::Dataset {
    use crate::mnist::PIXELS;
    let images = (0..n * PIXELS).map(|k| (k / PIXELS) as f32 + (k % PIXELS) as f32 / PIXELS as f32).collect();
    crate::mnist::Dataset { images, labels: (0..n as u32).map(|i| i % 10).collect(), n }
}
