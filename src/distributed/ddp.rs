//! [`DistributedDataParallel`]: one model's parameters kept identical across the ranks.

use super::ProcessGroup;
use crate::nn::{Module, Parameter};
use crate::{no_grad, DType, Error, Gradients, Result, Tensor};
use mpi::collective::SystemOperation;
use mpi::traits::CommunicatorCollectives;
use std::ops::Range;

/// A model trained data-parallel (torch.nn.parallel.DistributedDataParallel): built on
/// every rank from the same architecture, it checks that the ranks' parameter lists agree
/// (names, shapes, dtypes), copies rank 0's parameters and buffers to every rank, and after
/// each `backward()` averages the gradients across ranks, so every rank's optimizer takes
/// the identical step.
///
/// Gradients travel in buckets of about [`DistributedDataParallel::BUCKET_BYTES`] (the
/// parameters in reverse order, as PyTorch fills its buckets): each bucket is one
/// device-to-host copy and one all-reduce, and all buckets' all-reduces are in flight
/// together. They start after the whole `backward()`: wgrad's autograd records the
/// backward pass as one batch of device work, so there is no per-layer hook to overlap it
/// with, as PyTorch does.
///
/// Buffers (BatchNorm's running statistics) are copied from rank 0 at the start only;
/// afterwards each rank's follow its own shard of the data.
pub struct DistributedDataParallel<'g> {
    group: &'g ProcessGroup,
    params: Vec<Parameter>,
    /// Ranges of `params` (which is in reverse order), one per bucket.
    buckets: Vec<Range<usize>>,
}

impl<'g> DistributedDataParallel<'g> {
    /// The size a gradient bucket grows to (PyTorch's default `bucket_cap_mb` is 25).
    pub const BUCKET_BYTES: usize = 25 << 20;

    /// Joins `model` to the job: `Err` on every rank if the ranks' models differ (with the
    /// first parameter that does), else rank 0's parameters and buffers are copied to
    /// every rank.
    pub fn new<M: Module + ?Sized>(group: &'g ProcessGroup, model: &M) -> Result<Self> {
        let named = model.named_parameters();
        let buffers = model.named_buffers();
        let describe = |name: &str, t: &Tensor| format!("{name} {} {}", t.shape(), t.dtype());
        let mut signature: Vec<String> = named.iter().map(|(n, p)| describe(n, &p.tensor())).collect();
        signature.extend(buffers.iter().map(|(n, b)| describe(n, &b.tensor())));
        let ours = signature.join("\n");
        let rank0 = group.broadcast_string(&ours, 0);
        group.agree((ours != rank0).then(|| first_difference(&ours, &rank0)))?;
        for (_, p) in &named {
            p.set(group.broadcast_unchecked(&p.tensor(), 0)?);
        }
        for (_, b) in &buffers {
            b.set(group.broadcast_unchecked(&b.tensor(), 0)?);
        }
        let params: Vec<Parameter> = named.into_iter().rev().map(|(_, p)| p).collect();
        if let Some((_, p)) = params.iter().enumerate().find(|(_, p)| p.tensor().dtype() != DType::F32) {
            let t = p.tensor();
            return Err(Error::Distributed(format!("gradients are averaged in f32; a parameter is {}", t.dtype())));
        }
        let buckets = buckets(&params.iter().map(|p| p.tensor().numel() * 4).collect::<Vec<_>>(), Self::BUCKET_BYTES);
        Ok(DistributedDataParallel { group, params, buckets })
    }

    /// Replaces every parameter's gradient in `grads` with its mean over the ranks (a
    /// parameter without a gradient on this rank counts as zeros). Call it on every rank
    /// after `backward()` and before the optimizer step. `Err` from reading a gradient
    /// back (a pending device error).
    pub fn average_gradients(&self, grads: &mut Gradients) -> Result<()> {
        let world = &self.group.world;
        let flats: Vec<Tensor> = self.buckets.iter().map(|b| self.flatten(&self.params[b.clone()], grads)).collect();
        // One device-to-host copy per bucket (the first waits for the backward pass).
        let sends = flats.iter().map(|f| f.to_vec::<f32>()).collect::<Result<Vec<_>>>()?;
        let mut sums: Vec<Vec<f32>> = sends.iter().map(|s| vec![0.0; s.len()]).collect();
        mpi::request::scope(|scope| {
            let requests: Vec<_> = sends
                .iter()
                .zip(sums.iter_mut())
                .map(|(send, sum)| {
                    world.immediate_all_reduce_into(scope, &send[..], &mut sum[..], SystemOperation::sum())
                })
                .collect();
            requests.into_iter().for_each(|r| {
                r.wait();
            });
        });
        let ranks = self.group.size as f32;
        for (bucket, mut sum) in self.buckets.iter().zip(sums) {
            sum.iter_mut().for_each(|x| *x /= ranks);
            let dev = self.params[bucket.start].device();
            let mean = Tensor::from_vec(sum, [numel_of(&self.params[bucket.clone()])], &dev);
            let mut offset = 0;
            for p in &self.params[bucket.clone()] {
                let t = p.tensor();
                let g = no_grad(|| mean.narrow(0, offset, t.numel()).reshape(t.shape().clone()));
                offset += t.numel();
                grads.insert(&t, g);
            }
        }
        Ok(())
    }

    /// The bucket's gradients as one flat f32 tensor (zeros for a missing one).
    fn flatten(&self, params: &[Parameter], grads: &Gradients) -> Tensor {
        no_grad(|| {
            let flat: Vec<Tensor> = params
                .iter()
                .map(|p| {
                    let t = p.tensor();
                    let g = grads.get(&t).unwrap_or_else(|| Tensor::zeros(t.shape().clone(), DType::F32, t.device()));
                    g.reshape([t.numel()])
                })
                .collect();
            Tensor::cat(&flat.iter().collect::<Vec<_>>(), 0)
        })
    }
}

/// Elements in `params` together.
fn numel_of(params: &[Parameter]) -> usize {
    params.iter().map(|p| p.tensor().numel()).sum()
}

/// Consecutive ranges of `sizes` (bytes), each closed once it reaches `cap` bytes.
fn buckets(sizes: &[usize], cap: usize) -> Vec<Range<usize>> {
    let (mut out, mut start, mut bytes) = (Vec::new(), 0, 0);
    for (i, size) in sizes.iter().enumerate() {
        bytes += size;
        if bytes >= cap {
            out.push(start..i + 1);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// The first line where two model signatures differ, said for an error message.
fn first_difference(ours: &str, rank0: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), rank0.lines().collect());
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return format!(
                    "the model differs from rank 0's at parameter {i}: `{}` here, `{}` on rank 0",
                    x.unwrap_or(&"(none)"),
                    y.unwrap_or(&"(none)")
                )
            }
        }
    }
    "the model differs from rank 0's".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_close_at_the_cap() {
        assert_eq!(buckets(&[4, 4, 4, 4, 4], 8), [0..2, 2..4, 4..5]);
        assert_eq!(buckets(&[20, 1, 1], 8), [0..1, 1..3]);
        assert_eq!(buckets(&[], 8), Vec::<Range<usize>>::new());
    }

    #[test]
    fn the_first_differing_parameter_is_named() {
        let msg = first_difference("a [2] f32\nb [3] f32", "a [2] f32\nb [4] f32");
        assert!(msg.contains("`b [3] f32` here, `b [4] f32` on rank 0"), "{msg}");
        assert!(first_difference("a [2] f32", "a [2] f32\nc [1] f32").contains("`(none)` here"));
    }
}
