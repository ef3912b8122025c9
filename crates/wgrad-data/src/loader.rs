//! [`Dataset`] and [`DataLoader`], as in `torch.utils.data`: a data set is anything that
//! has a length and gives the sample at an index; a loader walks it in mini-batches, in a
//! seeded shuffled order (a new one every epoch, the same on every run and every device),
//! turns each batch of samples into what the model takes with a collate function, and
//! prepares the next batches on a background thread while the device works.
//!
//! ```
//! use wgrad::{Device, Tensor};
//! use wgrad_data::{DataLoader, TensorDataset};
//!
//! let dev = Device::cpu();
//! let x = Tensor::arange(0.0, 20.0, wgrad::DType::F32, &dev).reshape([10, 2]);
//! let y = Tensor::arange(0.0, 10.0, wgrad::DType::F32, &dev);
//! let loader = DataLoader::tensors(TensorDataset::new(vec![x, y]), 4).shuffle(7).drop_last(true);
//! assert_eq!(loader.len(), 2);
//! for batch in loader.epoch(0) {
//!     let (xb, yb) = (&batch[0], &batch[1]);
//!     assert_eq!((xb.dims(), yb.dims()), (&[4, 2][..], &[4][..]));
//! }
//! ```

use crate::batch::Prefetch;
use crate::rng;
use std::sync::Arc;
use wgrad::Tensor;

/// A map-style data set (torch.utils.data.Dataset): `len` samples, any one by index.
pub trait Dataset: Send + Sync + 'static {
    /// One sample.
    type Item: Send + 'static;
    /// How many samples there are.
    fn len(&self) -> usize;
    /// The sample at `index` (below `len`).
    fn get(&self, index: usize) -> Self::Item;
    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Samples kept in memory.
impl<T: Clone + Send + Sync + 'static> Dataset for Vec<T> {
    type Item = T;
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn get(&self, index: usize) -> T {
        self[index].clone()
    }
}

/// Tensors that share their first dim, sample `i` being row `i` of each
/// (torch.utils.data.TensorDataset). Its loader's default collate stacks the rows of a
/// batch: one gather per tensor, not one copy per sample.
#[derive(Clone)]
pub struct TensorDataset {
    tensors: Vec<Tensor>,
}

impl TensorDataset {
    /// The data set of `tensors`' rows.
    ///
    /// # Panics
    /// If `tensors` is empty or their first dims differ.
    pub fn new(tensors: Vec<Tensor>) -> TensorDataset {
        assert!(!tensors.is_empty(), "TensorDataset: expected at least one tensor");
        let n = tensors[0].dims().first().copied().unwrap_or(0);
        for t in &tensors {
            assert!(
                t.rank() > 0 && t.dims()[0] == n,
                "TensorDataset: every tensor needs the same first dim ({n}), got shape {}",
                t.shape()
            );
        }
        TensorDataset { tensors }
    }

    /// The rows `indices` of every tensor, as one batch (on the tensors' device).
    pub fn rows(&self, indices: &[usize]) -> Vec<Tensor> {
        let ids: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
        self.tensors
            .iter()
            .map(|t| {
                let ids = Tensor::from_vec(ids.clone(), [ids.len()], t.device());
                t.index_select(0, &ids)
            })
            .collect()
    }
}

impl Dataset for TensorDataset {
    type Item = usize;
    fn len(&self) -> usize {
        self.tensors[0].dims()[0]
    }
    /// The index itself: the loader's collate gathers a batch's rows at once.
    fn get(&self, index: usize) -> usize {
        index
    }
}

/// Turns a batch of samples into what the training step takes.
type Collate<I, B> = Arc<dyn Fn(Vec<I>) -> B + Send + Sync>;

/// Mini-batches of a [`Dataset`] (torch.utils.data.DataLoader): `batch_size` samples
/// each, optionally shuffled with a seed (epoch `e` uses the permutation of seed
/// `seed + e`) and without the last, smaller batch (`drop_last`), each turned into a
/// batch by the collate function, prepared on a background thread
/// ([`crate::batch::PREFETCH_DEPTH`] ahead).
pub struct DataLoader<D: Dataset, B = Vec<<D as Dataset>::Item>> {
    dataset: Arc<D>,
    batch_size: usize,
    shuffle: Option<u64>,
    drop_last: bool,
    shard: Shard,
    collate: Collate<D::Item, B>,
}

/// Which part of every epoch one process of a data-parallel job walks: `rank` of
/// `world_size` (torch.utils.data.DistributedSampler). The whole run's one process is
/// rank 0 of 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's place, below `world_size`.
    pub rank: usize,
    /// How many processes split each epoch.
    pub world_size: usize,
}

impl<D: Dataset> DataLoader<D> {
    /// Batches of `batch_size` samples in stored order, collated into a `Vec`.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn new(dataset: D, batch_size: usize) -> DataLoader<D> {
        DataLoader::from_arc(Arc::new(dataset), batch_size)
    }

    /// [`DataLoader::new`] of a data set shared with other code.
    pub fn from_arc(dataset: Arc<D>, batch_size: usize) -> DataLoader<D> {
        assert!(batch_size > 0, "DataLoader: batch_size must be positive");
        let shard = Shard { rank: 0, world_size: 1 };
        DataLoader { dataset, batch_size, shuffle: None, drop_last: false, shard, collate: Arc::new(|v| v) }
    }
}

impl DataLoader<TensorDataset> {
    /// A [`TensorDataset`]'s loader, whose batches are its tensors' rows stacked.
    pub fn tensors(dataset: TensorDataset, batch_size: usize) -> DataLoader<TensorDataset, Vec<Tensor>> {
        let data = Arc::new(dataset);
        let rows = data.clone();
        DataLoader::from_arc(data, batch_size).collate(move |indices| rows.rows(&indices))
    }
}

impl<D: Dataset, B: Send + 'static> DataLoader<D, B> {
    /// Shuffles every epoch: epoch `e` walks the permutation seeded by `seed + e`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// Leaves out the last batch when it would be smaller than `batch_size`.
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// Walks only this process's shard of every epoch, as PyTorch's `DistributedSampler`
    /// splits it: the epoch's order (the same on every rank: give every rank the same
    /// shuffle seed) padded with its own first samples to a multiple of `world_size`, then
    /// every `world_size`-th sample from position `rank`. So with batch size `b` per rank,
    /// step `s` of the `world_size` ranks together sees exactly the samples that batch `s`
    /// of one process with batch size `b * world_size` sees.
    ///
    /// ```
    /// use wgrad_data::DataLoader;
    /// let whole = DataLoader::new((0..8).collect::<Vec<u32>>(), 4).shuffle(5);
    /// let first = whole.batch_indices(0)[0].clone();
    /// let rank0 = DataLoader::new((0..8).collect::<Vec<u32>>(), 2).shuffle(5).shard(0, 2);
    /// let rank1 = DataLoader::new((0..8).collect::<Vec<u32>>(), 2).shuffle(5).shard(1, 2);
    /// let (a, b) = (rank0.batch_indices(0)[0].clone(), rank1.batch_indices(0)[0].clone());
    /// assert_eq!((a[0], b[0], a[1], b[1]), (first[0], first[1], first[2], first[3]));
    /// ```
    ///
    /// # Panics
    /// If `rank` is not below `world_size`.
    pub fn shard(mut self, rank: usize, world_size: usize) -> Self {
        assert!(rank < world_size, "DataLoader::shard: rank {rank} is not below world_size {world_size}");
        self.shard = Shard { rank, world_size };
        self
    }

    /// Turns each batch's samples (in order) into a batch with `collate`.
    pub fn collate<C: Send + 'static>(
        self,
        collate: impl Fn(Vec<D::Item>) -> C + Send + Sync + 'static,
    ) -> DataLoader<D, C> {
        DataLoader {
            dataset: self.dataset,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            drop_last: self.drop_last,
            shard: self.shard,
            collate: Arc::new(collate),
        }
    }

    /// The data set.
    pub fn dataset(&self) -> &Arc<D> {
        &self.dataset
    }

    /// Batches per epoch (of this process's shard).
    pub fn len(&self) -> usize {
        let n = self.samples_per_epoch();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// True when an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many samples this process walks per epoch: all of them, or a shard's
    /// `ceil(len / world_size)`.
    fn samples_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        if n == 0 {
            0
        } else {
            n.div_ceil(self.shard.world_size)
        }
    }

    /// The sample indices of every batch of `epoch` (of this process's shard), in order.
    pub fn batch_indices(&self, epoch: u64) -> Vec<Vec<usize>> {
        let n = self.dataset.len();
        let mut order = match self.shuffle {
            Some(seed) => rng::permutation(n, seed.wrapping_add(epoch)),
            None => (0..n).collect(),
        };
        let Shard { rank, world_size } = self.shard;
        if world_size > 1 && n > 0 {
            // Padded with the order's own first samples so every rank gets as many.
            let padded = self.samples_per_epoch() * world_size;
            order = order.iter().cycle().take(padded).skip(rank).step_by(world_size).copied().collect();
        }
        let mut batches: Vec<Vec<usize>> = order.chunks(self.batch_size).map(<[usize]>::to_vec).collect();
        if self.drop_last && batches.last().is_some_and(|b| b.len() < self.batch_size) {
            batches.pop();
        }
        batches
    }

    /// The batches of `epoch` (0, 1, ...), collated on a background thread.
    pub fn epoch(&self, epoch: u64) -> Prefetch<B> {
        let (data, collate) = (self.dataset.clone(), self.collate.clone());
        Prefetch::new(
            self.batch_indices(epoch)
                .into_iter()
                .map(move |indices| collate(indices.into_iter().map(|i| data.get(i)).collect())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgrad::{DType, Device};

    #[test]
    fn every_sample_once_per_epoch_in_a_seeded_order() {
        let data: Vec<u32> = (0..10).collect();
        let loader = DataLoader::new(data, 4).shuffle(3);
        assert_eq!(loader.len(), 3);
        let epoch0: Vec<Vec<u32>> = loader.epoch(0).collect();
        assert_eq!(epoch0.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        let mut seen: Vec<u32> = epoch0.concat();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(epoch0, loader.epoch(0).collect::<Vec<_>>(), "the same seed and epoch give the same order");
        assert_ne!(epoch0, loader.epoch(1).collect::<Vec<_>>(), "each epoch has its own order");
        let flat: Vec<u32> = rng::permutation(10, 3).into_iter().map(|i| i as u32).collect();
        assert_eq!(epoch0.concat(), flat, "epoch 0 walks the permutation of the seed");

        let in_order = DataLoader::new((0..10).collect::<Vec<u32>>(), 4).drop_last(true);
        assert_eq!(in_order.len(), 2);
        assert_eq!(in_order.epoch(5).collect::<Vec<_>>(), [vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
        let sums = DataLoader::new((0..10).collect::<Vec<u32>>(), 4).collate(|b| b.iter().sum::<u32>());
        assert_eq!(sums.epoch(0).collect::<Vec<_>>(), [6, 22, 17]);
    }

    #[test]
    fn shards_split_each_epoch_as_one_big_batch_would() {
        let data: Vec<u32> = (0..10).collect();
        let whole = DataLoader::new(data.clone(), 4).shuffle(11);
        let shards: Vec<_> = (0..2).map(|r| DataLoader::new(data.clone(), 2).shuffle(11).shard(r, 2)).collect();
        for epoch in 0..3 {
            let big = whole.batch_indices(epoch);
            let parts: Vec<_> = shards.iter().map(|s| s.batch_indices(epoch)).collect();
            assert_eq!(parts[0].len(), big.len());
            for (step, batch) in big.iter().enumerate() {
                // Step `step` of the two ranks interleaved is the one process's batch.
                let mut joined = Vec::new();
                for k in 0..parts[0][step].len() {
                    joined.push(parts[0][step][k]);
                    if let Some(&i) = parts[1][step].as_slice().get(k) {
                        joined.push(i);
                    }
                }
                assert_eq!(&joined, batch, "epoch {epoch} step {step}");
            }
        }
        // Three ranks over 10 samples: 4 each, the order's first two samples repeated.
        let order = rng::permutation(10, 11);
        let ranks: Vec<Vec<usize>> = (0..3)
            .map(|r| DataLoader::new(data.clone(), 4).shuffle(11).shard(r, 3).batch_indices(0).concat())
            .collect();
        assert!(ranks.iter().all(|r| r.len() == 4));
        assert_eq!(ranks[0], [order[0], order[3], order[6], order[9]]);
        assert_eq!(ranks[1], [order[1], order[4], order[7], order[0]]);
        assert_eq!(ranks[2], [order[2], order[5], order[8], order[1]]);
        assert_eq!(DataLoader::new(data, 4).shard(2, 3).len(), 1);
    }

    #[test]
    fn tensor_batches_are_the_rows_of_each_tensor() {
        let dev = Device::cpu();
        let x = Tensor::arange(0.0, 12.0, DType::F32, &dev).reshape([6, 2]);
        let y = Tensor::from_vec((0..6u32).collect::<Vec<_>>(), [6], &dev);
        let loader = DataLoader::tensors(TensorDataset::new(vec![x, y]), 4).shuffle(9);
        let order = loader.batch_indices(0).concat();
        let mut rows = Vec::new();
        for batch in loader.epoch(0) {
            let xs = batch[0].to_vec::<f32>().unwrap();
            let ys = batch[1].to_vec::<u32>().unwrap();
            for (k, &label) in ys.iter().enumerate() {
                assert_eq!(xs[2 * k..2 * k + 2], [2.0 * label as f32, 2.0 * label as f32 + 1.0]);
                rows.push(label as usize);
            }
        }
        assert_eq!(rows, order);
    }
}
