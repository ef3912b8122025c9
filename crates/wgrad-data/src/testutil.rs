//! Helpers shared by the unit tests.

/// `n` images whose pixel 0 is the image's index (so `image[0] as usize` identifies it) and
/// whose label is `index % 10`.
pub fn synthetic(n: usize) -> crate::mnist::Dataset {
    use crate::mnist::PIXELS;
    let images = (0..n * PIXELS).map(|k| (k / PIXELS) as f32 + (k % PIXELS) as f32 / PIXELS as f32).collect();
    crate::mnist::Dataset { images, labels: (0..n as u32).map(|i| i % 10).collect(), n }
}
