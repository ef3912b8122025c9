//! `--distributed`: the demo runs as one rank of an MPI job (`mpirun -np N <demo>
//! --distributed`), data-parallel: each rank trains on its shard of every global batch and
//! the gradients are averaged (wgrad::distributed). Rank 0 alone fetches the data first,
//! prints, evaluates and writes the checkpoints and the chart. Without the flag (or a build
//! without the `distributed` feature) the job is this one process.

use anyhow::Result;
use wgrad::nn::Module;
use wgrad::Gradients;

#[cfg(feature = "distributed")]
use wgrad::distributed::{self, DistributedDataParallel, ProcessGroup, ReduceOp};

/// The processes training one model: this one alone, or the ranks of an MPI job.
pub struct Job {
    #[cfg(feature = "distributed")]
    group: Option<ProcessGroup>,
}

/// Averages gradients across the job's ranks (nothing to do alone).
pub struct DataParallel<'j> {
    #[cfg(feature = "distributed")]
    ddp: Option<DistributedDataParallel<'j>>,
    #[cfg(not(feature = "distributed"))]
    _job: std::marker::PhantomData<&'j Job>,
}

impl Job {
    /// Joins the MPI job when `distributed` (the `--distributed` flag).
    pub fn start(distributed: bool) -> Result<Job> {
        #[cfg(feature = "distributed")]
        return Ok(Job { group: distributed.then(distributed::init).transpose()? });
        #[cfg(not(feature = "distributed"))]
        {
            anyhow::ensure!(
                !distributed,
                "--distributed needs the `distributed` feature (and MPI): cargo build --release --features distributed --examples"
            );
            Ok(Job {})
        }
    }

    /// This process's rank (0 alone).
    pub fn rank(&self) -> usize {
        #[cfg(feature = "distributed")]
        if let Some(g) = &self.group {
            return g.rank();
        }
        0
    }

    /// How many processes train together (1 alone).
    pub fn world_size(&self) -> usize {
        #[cfg(feature = "distributed")]
        if let Some(g) = &self.group {
            return g.world_size();
        }
        1
    }

    /// This rank's part of every epoch (the whole of it alone).
    pub fn shard(&self) -> wgrad_data::Shard {
        wgrad_data::Shard { rank: self.rank(), world_size: self.world_size() }
    }

    /// True on the rank that prints, evaluates and writes files.
    pub fn is_main(&self) -> bool {
        self.rank() == 0
    }

    /// Each rank's share of a global batch of `global` samples; `Err` unless it divides evenly.
    pub fn local_batch(&self, global: usize) -> Result<usize> {
        let n = self.world_size();
        anyhow::ensure!(global.is_multiple_of(n), "--batch-size {global} does not split evenly over {n} ranks");
        Ok(global / n)
    }

    /// Runs `f` on rank 0 first (fetching data, say), then on the other ranks.
    pub fn main_first<T>(&self, f: impl Fn() -> Result<T>) -> Result<T> {
        #[cfg(feature = "distributed")]
        if let Some(g) = &self.group {
            let first = if g.is_main() { Some(f()?) } else { None };
            g.barrier();
            return match first {
                Some(v) => Ok(v),
                None => f(),
            };
        }
        f()
    }

    /// The mean of `x` over the ranks (`x` alone).
    pub fn mean(&self, x: f64) -> Result<f64> {
        #[cfg(feature = "distributed")]
        if let Some(g) = &self.group {
            return Ok(g.all_reduce_scalar(x, ReduceOp::Mean)?);
        }
        Ok(x)
    }

    /// `Err` on every rank unless `value` is rank 0's on all of them.
    pub fn same_everywhere(&self, value: usize, what: &str) -> Result<()> {
        #[cfg(feature = "distributed")]
        if let Some(g) = &self.group {
            let ours = wgrad::Tensor::from_vec(vec![value as u32], [1], &wgrad::Device::cpu());
            let rank0 = g.broadcast(&ours, 0)?.to_vec::<u32>()?[0] as usize;
            let differing = g.all_reduce_scalar(f64::from(u8::from(rank0 != value)), ReduceOp::Sum)?;
            anyhow::ensure!(
                differing == 0.0,
                "{what} differs between ranks (rank {}: {value}, rank 0: {rank0}); --resume needs --out on a file system every rank sees",
                g.rank()
            );
        }
        let _ = (value, what);
        Ok(())
    }

    /// `model` trained data-parallel: rank 0's weights copied to every rank now, the
    /// gradients averaged by [`DataParallel::average`].
    pub fn data_parallel<M: Module>(&self, model: &M) -> Result<DataParallel<'_>> {
        #[cfg(feature = "distributed")]
        return Ok(DataParallel {
            ddp: self.group.as_ref().map(|g| DistributedDataParallel::new(g, model)).transpose()?,
        });
        #[cfg(not(feature = "distributed"))]
        {
            let _ = model;
            Ok(DataParallel { _job: std::marker::PhantomData })
        }
    }

    /// Ends the job: `result` on success; an error ends every rank (with this rank's
    /// message) instead of leaving them waiting.
    pub fn finish(self, result: Result<()>) -> Result<()> {
        #[cfg(feature = "distributed")]
        if let Some(g) = self.group {
            return g.finish(result);
        }
        result
    }
}

impl DataParallel<'_> {
    /// Replaces `grads` by their mean over the ranks.
    pub fn average(&self, grads: &mut Gradients) -> Result<()> {
        #[cfg(feature = "distributed")]
        if let Some(ddp) = &self.ddp {
            ddp.average_gradients(grads)?;
        }
        let _ = grads;
        Ok(())
    }
}
