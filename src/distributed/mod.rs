//! Data-parallel training over MPI (`distributed` feature), in PyTorch's shape
//! (`torch.distributed` + `DistributedDataParallel`): every process ("rank") holds the whole
//! model and a disjoint shard of each batch; gradients are averaged across ranks after
//! `backward()`, so every rank takes the identical optimizer step.
//!
//! MPI does the communication (Open MPI, MPICH or a cluster's own): start the job with
//! `mpirun -np N PROGRAM`, on one machine or across machines (`--hostfile`). A program run
//! without `mpirun` is a job of one rank. Tensors on a GPU are staged through host memory.
//!
//! ```no_run
//! use wgrad::distributed::{self, DistributedDataParallel};
//! use wgrad::{functional as F, nn, Device, Tensor};
//!
//! let group = distributed::init()?;
//! let result = (|| {
//!     let dev = Device::cpu();
//!     let model = nn::Linear::new(4, 2, &dev);
//!     // Parameters start equal everywhere: rank 0's are broadcast.
//!     let ddp = DistributedDataParallel::new(&group, &model)?;
//!     let mut opt = nn::Sgd::new(model.parameters(), nn::SgdConfig { lr: 0.1, ..Default::default() });
//!     // Each rank's own shard of the batch (here: a seed per rank).
//!     let x = Tensor::randn([8, 4], group.rank() as u64, &dev);
//!     let y = Tensor::from_vec(vec![0u32, 1, 0, 1, 0, 1, 0, 1], [8], &dev);
//!     let loss = F::cross_entropy(&model.forward(&x), &y, F::Reduction::Mean, 0.0);
//!     let mut grads = loss.backward()?;
//!     ddp.average_gradients(&mut grads)?;
//!     opt.step(&grads)?;
//!     let global = group.all_reduce_scalar(loss.to_scalar()?, distributed::ReduceOp::Mean)?;
//!     if group.is_main() {
//!         println!("loss {global}");
//!     }
//!     Ok::<(), wgrad::Error>(())
//! })();
//! // Ok: every rank leaves MPI together. Err: the error is printed with its rank and the
//! // whole job ends, instead of the other ranks waiting forever.
//! group.finish(result)
//! # ?; Ok::<(), wgrad::Error>(())
//! ```

mod ddp;

pub use ddp::DistributedDataParallel;

use crate::{DType, Error, Result, Tensor};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Equivalence, Root};

/// How [`ProcessGroup::all_reduce`] combines the ranks' values (torch.distributed.ReduceOp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// The sum over ranks.
    Sum,
    /// The sum over ranks divided by the number of ranks (floating-point tensors only).
    Mean,
}

/// This process's membership of the MPI job (torch.distributed's default process group):
/// its rank, the job's size, and the collectives. Made once per process by [`init`]; end
/// it with [`ProcessGroup::finish`], which leaves MPI on success and ends the whole job
/// on an error. A panic on any rank also ends the whole job (with the panic's message),
/// so no rank is left waiting in a collective for a peer that died.
pub struct ProcessGroup {
    universe: Option<Universe>,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
}

/// Starts MPI (the calling thread is the one that talks to it) and joins the job:
/// `mpirun`'s ranks, or a job of one when the program was started alone. Installs a
/// panic hook that ends the whole job after printing the panic with its rank.
///
/// `Err` if MPI was started already in this process or does not start.
pub fn init() -> Result<ProcessGroup> {
    let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled).ok_or_else(|| {
        Error::Distributed("MPI was initialised already in this process: call distributed::init() once".into())
    })?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        // After `finish` left MPI, a panic is this process's alone.
        if !mpi::environment::is_finalized() {
            eprintln!("wgrad::distributed: rank {rank} of {size} panicked; ending the whole job");
            SimpleCommunicator::world().abort(101);
        }
    }));
    Ok(ProcessGroup { universe: Some(universe), world, rank, size })
}

impl ProcessGroup {
    /// This process's rank, `0..world_size()`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// How many processes the job has.
    pub fn world_size(&self) -> usize {
        self.size
    }

    /// True on rank 0, the one that writes checkpoints, charts and the final report.
    pub fn is_main(&self) -> bool {
        self.rank == 0
    }

    /// Waits until every rank gets here.
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// The ranks' tensors combined element by element, on every rank (same shape and
    /// dtype everywhere; the result is on `t`'s device). f16 tensors are summed in f32.
    /// `Err` for [`ReduceOp::Mean`] of an integer tensor, or from reading `t`.
    pub fn all_reduce(&self, t: &Tensor, op: ReduceOp) -> Result<Tensor> {
        let (shape, dev) = (t.shape().clone(), t.device());
        let mean_of_ints = op == ReduceOp::Mean && matches!(t.dtype(), DType::U32 | DType::I32);
        if mean_of_ints {
            return Err(Error::Distributed(format!("all_reduce: the mean of a {} tensor; use Sum", t.dtype())));
        }
        Ok(match t.dtype() {
            DType::F32 | DType::F16 => {
                let mut sum = self.sum_host(&t.cast(DType::F32).to_vec::<f32>()?);
                if op == ReduceOp::Mean {
                    let ranks = self.size as f32;
                    sum.iter_mut().for_each(|x| *x /= ranks);
                }
                Tensor::from_vec(sum, shape, dev).cast(t.dtype())
            }
            DType::U32 => Tensor::from_vec(self.sum_host(&t.to_vec::<u32>()?), shape, dev),
            DType::I32 => Tensor::from_vec(self.sum_host(&t.to_vec::<i32>()?), shape, dev),
        })
    }

    /// [`ProcessGroup::all_reduce`] of one number (a loss, a count of correct answers).
    pub fn all_reduce_scalar(&self, x: f64, op: ReduceOp) -> Result<f64> {
        let sum = self.sum_host(&[x])[0];
        Ok(if op == ReduceOp::Mean { sum / self.size as f64 } else { sum })
    }

    /// Rank `root`'s tensor, on every rank (on each rank's own device). Every rank passes
    /// a tensor of the same shape and dtype; `Err` on every rank if they differ.
    pub fn broadcast(&self, t: &Tensor, root: usize) -> Result<Tensor> {
        let here = format!("{} {}", t.shape(), t.dtype());
        let there = self.broadcast_string(&here, root);
        let mismatch = (here != there).then(|| format!("a {here} tensor here, {there} on rank {root}"));
        self.agree(mismatch)?;
        self.broadcast_unchecked(t, root)
    }

    /// Ends this process's part of the job: `Ok` leaves MPI (waiting for the other ranks)
    /// and returns the value; `Err` prints the error with this rank's number and ends the
    /// whole job with exit status 1, so the other ranks stop instead of waiting forever.
    pub fn finish<T, E: std::fmt::Display>(mut self, result: std::result::Result<T, E>) -> std::result::Result<T, E> {
        match result {
            Ok(value) => {
                drop(self.universe.take()); // MPI_Finalize
                Ok(value)
            }
            Err(e) => {
                eprintln!("Error on rank {} of {}: {e:#}", self.rank, self.size);
                eprintln!("wgrad::distributed: rank {} failed; ending the whole job", self.rank);
                self.world.abort(1)
            }
        }
    }

    /// The element-wise sum of every rank's `local`.
    fn sum_host<T: Equivalence + Copy + Default>(&self, local: &[T]) -> Vec<T> {
        let mut out = vec![T::default(); local.len()];
        self.world.all_reduce_into(local, &mut out[..], SystemOperation::sum());
        out
    }

    /// Rank `root`'s values in `t`'s place, without checking that shapes agree.
    fn broadcast_unchecked(&self, t: &Tensor, root: usize) -> Result<Tensor> {
        let (shape, dev, root) = (t.shape().clone(), t.device(), self.world.process_at_rank(root as i32));
        Ok(match t.dtype() {
            DType::F32 | DType::F16 => {
                let mut v = t.cast(DType::F32).to_vec::<f32>()?;
                root.broadcast_into(&mut v[..]);
                Tensor::from_vec(v, shape, dev).cast(t.dtype())
            }
            DType::U32 => {
                let mut v = t.to_vec::<u32>()?;
                root.broadcast_into(&mut v[..]);
                Tensor::from_vec(v, shape, dev)
            }
            DType::I32 => {
                let mut v = t.to_vec::<i32>()?;
                root.broadcast_into(&mut v[..]);
                Tensor::from_vec(v, shape, dev)
            }
        })
    }

    /// Rank `root`'s `s`, on every rank.
    fn broadcast_string(&self, s: &str, root: usize) -> String {
        let root = self.world.process_at_rank(root as i32);
        let mut len = s.len() as u64;
        root.broadcast_into(&mut len);
        let mut bytes = s.as_bytes().to_vec();
        bytes.resize(len as usize, 0);
        root.broadcast_into(&mut bytes[..]);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// `Ok` on every rank when no rank has a `problem`; otherwise `Err` on every rank,
    /// naming the ranks with one (and this rank's own problem where it has one).
    fn agree(&self, problem: Option<String>) -> Result<()> {
        let flag = [u32::from(problem.is_some())];
        let mut flags = vec![0u32; self.size];
        self.world.all_gather_into(&flag[..], &mut flags[..]);
        let failing: Vec<usize> = (0..self.size).filter(|&r| flags[r] != 0).collect();
        if failing.is_empty() {
            return Ok(());
        }
        Err(Error::Distributed(match problem {
            Some(p) => format!("rank {}: {p}", self.rank),
            None => format!("rank(s) {failing:?} disagree with rank {} (their errors say how)", self.rank),
        }))
    }
}

impl Drop for ProcessGroup {
    /// A group dropped without [`ProcessGroup::finish`] (an early `?` return) ends the job:
    /// leaving MPI here would leave the other ranks waiting for this one forever.
    fn drop(&mut self) {
        if self.universe.is_some() && !std::thread::panicking() {
            eprintln!(
                "wgrad::distributed: rank {} stopped without ProcessGroup::finish (an error returned early?); ending the whole job",
                self.rank
            );
            self.world.abort(1);
        }
    }
}
