//! Mini-batches: [`Batches`] walks a [`Dataset`] in a seeded random (or the stored) order,
//! and [`Prefetch`] runs any such iterator on a background thread so the next batches are
//! gathered while the device computes on the current one.

use crate::mnist::{Dataset, COLS, PIXELS, ROWS};
use crate::rng;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One mini-batch: `b * 784` pixels (shape `[b, 1, 28, 28]`, flattened) and `b` labels.
pub type Batch = (Vec<f32>, Vec<u32>);

/// The shape of a batch of `b` images: `[b, 1, 28, 28]`.
pub fn batch_shape(b: usize) -> [usize; 4] {
    [b, 1, ROWS, COLS]
}

/// A [`Dataset`]'s samples are (image, label): `784` pixels and the class.
impl crate::Dataset for Dataset {
    type Item = (Vec<f32>, u32);
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, index: usize) -> (Vec<f32>, u32) {
        (self.image(index).to_vec(), self.labels[index])
    }
}

/// The collate function of image samples for a [`crate::DataLoader`]: the pixels one
/// after another (`[b, 1, 28, 28]` flattened) and the labels.
pub fn collate(samples: Vec<(Vec<f32>, u32)>) -> Batch {
    let mut images = Vec::with_capacity(samples.len() * PIXELS);
    let mut labels = Vec::with_capacity(samples.len());
    for (image, label) in samples {
        images.extend_from_slice(&image);
        labels.push(label);
    }
    (images, labels)
}

/// An iterator over the mini-batches of one epoch. Every image appears exactly once; the
/// last batch is smaller when the batch size does not divide the data set.
#[derive(Debug, Clone)]
pub struct Batches {
    data: Arc<Dataset>,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
}

impl Batches {
    /// Batches of `batch_size` images from `data`, in a permutation seeded by `shuffle_seed`
    /// (use a different seed per epoch), or in stored order for `None`.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn new(data: impl Into<Arc<Dataset>>, batch_size: usize, shuffle_seed: Option<u64>) -> Self {
        assert!(batch_size > 0, "batch_size must be positive");
        let data = data.into();
        let order = match shuffle_seed {
            Some(seed) => rng::permutation(data.n, seed),
            None => (0..data.n).collect(),
        };
        Batches { data, order, batch_size, pos: 0 }
    }

    /// Moves this iterator to a background thread; see [`Prefetch`].
    pub fn prefetch(self) -> Prefetch<Batch> {
        Prefetch::new(self)
    }
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let end = (self.pos + self.batch_size).min(self.order.len());
        let idx = &self.order[self.pos..end];
        if idx.is_empty() {
            return None;
        }
        self.pos = end;
        let mut images = Vec::with_capacity(idx.len() * PIXELS);
        for &i in idx {
            images.extend_from_slice(self.data.image(i));
        }
        Some((images, idx.iter().map(|&i| self.data.labels[i]).collect()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.pos).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches {}

/// Batches queued ahead by [`Prefetch`]: while the consumer works on one batch, up to this
/// many wait ready and one more is being gathered.
pub const PREFETCH_DEPTH: usize = 2;

/// Runs an iterator on a background thread, keeping up to [`PREFETCH_DEPTH`] items ready.
/// Yields the same items in the same order as the iterator itself. Dropping it early stops
/// the thread after the item it is preparing; a panic in the thread is re-raised here.
pub struct Prefetch<T> {
    rx: Option<Receiver<T>>,
    worker: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Prefetch<T> {
    /// Starts a thread that drives `iter`.
    pub fn new<I: Iterator<Item = T> + Send + 'static>(iter: I) -> Self {
        let (tx, rx) = sync_channel(PREFETCH_DEPTH);
        let worker = std::thread::Builder::new()
            .name("wgrad-data-prefetch".into())
            .spawn(move || {
                for item in iter {
                    if tx.send(item).is_err() {
                        break; // the consumer hung up
                    }
                }
            })
            .expect("spawning the prefetch thread");
        Prefetch { rx: Some(rx), worker: Some(worker) }
    }
}

impl<T> Iterator for Prefetch<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let item = self.rx.as_ref()?.recv().ok();
        if item.is_none() {
            // The thread finished (or panicked): join it, passing a panic on.
            self.rx = None;
            if let Some(Err(panic)) = self.worker.take().map(JoinHandle::join) {
                std::panic::resume_unwind(panic);
            }
        }
        item
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.rx = None; // unblocks a thread waiting to send
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::synthetic;

    fn ids(images: &[f32]) -> Vec<usize> {
        images.chunks(PIXELS).map(|im| im[0] as usize).collect()
    }

    #[test]
    fn batches_cover_every_sample_once() {
        let data = Arc::new(synthetic(103));
        for seed in [None, Some(5)] {
            let batches: Vec<Batch> = Batches::new(data.clone(), 10, seed).collect();
            assert_eq!(batches.len(), 11);
            assert_eq!(Batches::new(data.clone(), 10, seed).len(), 11);
            assert!(batches[..10].iter().all(|(x, y)| x.len() == 10 * PIXELS && y.len() == 10));
            assert_eq!((batches[10].0.len(), batches[10].1.len()), (3 * PIXELS, 3));
            let mut seen: Vec<usize> = Vec::new();
            for (x, y) in &batches {
                let batch_ids = ids(x);
                // Labels travel with their images, and images arrive whole.
                assert_eq!(y, &batch_ids.iter().map(|&i| i as u32 % 10).collect::<Vec<_>>());
                for (im, &i) in x.chunks(PIXELS).zip(&batch_ids) {
                    assert_eq!(im, data.image(i));
                }
                seen.extend(batch_ids);
            }
            if seed.is_none() {
                assert_eq!(seen, (0..103).collect::<Vec<_>>());
            } else {
                assert_ne!(seen, (0..103).collect::<Vec<_>>());
                seen.sort_unstable();
                assert_eq!(seen, (0..103).collect::<Vec<_>>());
            }
        }
        assert_eq!(batch_shape(4), [4, 1, 28, 28]);
    }

    #[test]
    fn shuffle_is_seeded() {
        let data = Arc::new(synthetic(50));
        let a: Vec<Batch> = Batches::new(data.clone(), 8, Some(1)).collect();
        assert_eq!(a, Batches::new(data.clone(), 8, Some(1)).collect::<Vec<_>>());
        assert_ne!(a, Batches::new(data.clone(), 8, Some(2)).collect::<Vec<_>>());
    }

    #[test]
    fn prefetch_yields_the_same_batches() {
        let data = Arc::new(synthetic(77));
        let plain: Vec<Batch> = Batches::new(data.clone(), 6, Some(3)).collect();
        let fetched: Vec<Batch> = Batches::new(data.clone(), 6, Some(3)).prefetch().collect();
        assert_eq!(plain, fetched);
        // Dropping it early stops the thread instead of hanging.
        let mut early = Batches::new(data, 1, None).prefetch();
        assert!(early.next().is_some());
        drop(early);
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn prefetch_passes_panics_on() {
        let items = (0..5).map(|i| if i == 3 { panic!("boom") } else { i });
        for _ in Prefetch::new(items) {}
    }
}
