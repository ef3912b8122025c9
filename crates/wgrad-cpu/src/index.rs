//! Indexing kernels: `index_select` (rows picked by an index vector, as embedding
//! lookups do) and `gather` (PyTorch's torch.gather). Out-of-range ids are errors
//! that name the value, never reads of another row.

use crate::{with_storage, CpuStorage};
use wgrad_core::{Error, Layout, Result, WithDType};

fn index_values(ids: &CpuStorage, lids: &Layout, size: usize, op: &'static str) -> Result<Vec<usize>> {
    let values: Vec<i64> = with_storage!(ids, v => lids.indices().map(|i| v[i].to_f64() as i64).collect());
    values
        .into_iter()
        .map(|id| {
            if id < 0 || id as usize >= size {
                Err(Error::IndexOutOfRange { op, index: id, size: size as u64 })
            } else {
                Ok(id as usize)
            }
        })
        .collect()
}

/// Selects entries `ids` (a 1-D u32/i32 view) along `dim` of `x`. Output is contiguous,
/// shaped like x with `dim` replaced by the number of ids. This is `gather` with the ids
/// broadcast over every other dim (stride 0), so both share one kernel.
pub fn index_select(x: &CpuStorage, lx: &Layout, dim: usize, ids: &CpuStorage, lids: &Layout) -> Result<CpuStorage> {
    let spread = Layout::index_select_ids(lx.dims(), dim, lids);
    gather(x, lx, dim, ids, &spread, "index_select")
}

/// `out[p] = x[p with dim replaced by ids[p]]` for every position p of `ids` (PyTorch's
/// gather). `ids` has x's rank and sizes no larger than x's outside `dim`. An id out of
/// range is an `Err` naming `op` (the op the user called: gather, embedding, ...).
pub fn gather(
    x: &CpuStorage,
    lx: &Layout,
    dim: usize,
    ids: &CpuStorage,
    lids: &Layout,
    op: &'static str,
) -> Result<CpuStorage> {
    let id_values = index_values(ids, lids, lx.dims()[dim], op)?;
    let shape = lids.dims();
    let mut pos = vec![0usize; shape.len()];
    let mut out_idx = Vec::with_capacity(id_values.len());
    for &id in &id_values {
        let mut off = lx.offset();
        for (d, (&p, &stride)) in pos.iter().zip(lx.strides()).enumerate() {
            off += if d == dim { id } else { p } * stride;
        }
        out_idx.push(off);
        for d in (0..shape.len()).rev() {
            pos[d] += 1;
            if pos[d] < shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    Ok(with_storage!(x, v => CpuStorage::from_vec(out_idx.iter().map(|&i| v[i]).collect::<Vec<_>>())))
}

/// The backward of gather: `out[p] = sum of g[q] over positions q of ids with
/// ids[q] == p[dim] and q == p in every other dim`, for an input of `x_dims`. Sums run
/// in increasing q order (deterministic; the GPU kernel sums in the same order).
/// An id out of range adds nothing anywhere (its forward reported the error), as on
/// the GPU, whose kernel only sums ids that match an output row.
pub fn gather_backward(
    g: &CpuStorage,
    lg: &Layout,
    dim: usize,
    ids: &CpuStorage,
    lids: &Layout,
    x_dims: &[usize],
) -> CpuStorage {
    let size = x_dims[dim] as i64;
    let id_values: Vec<Option<usize>> = with_storage!(ids, v => lids
        .indices()
        .map(|i| {
            let id = v[i].to_f64() as i64;
            (0..size).contains(&id).then_some(id as usize)
        })
        .collect());
    let out_strides = Layout::contiguous(x_dims.to_vec()).strides().to_vec();
    let shape = lids.dims();
    let mut targets = Vec::with_capacity(id_values.len());
    let mut pos = vec![0usize; shape.len()];
    for &id in &id_values {
        targets.push(id.map(|id| -> usize {
            pos.iter().zip(&out_strides).enumerate().map(|(d, (&p, &s))| if d == dim { id } else { p } * s).sum()
        }));
        for d in (0..shape.len()).rev() {
            pos[d] += 1;
            if pos[d] < shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    let n: usize = x_dims.iter().product();
    let grads: Vec<f64> = g.to_f64_vec(lg);
    let mut out = vec![0.0f64; n];
    for (t, v) in targets.into_iter().zip(grads) {
        if let Some(t) = t {
            out[t] += v;
        }
    }
    match g.dtype() {
        wgrad_core::DType::F16 => CpuStorage::F16(out.into_iter().map(half::f16::from_f64).collect()),
        _ => CpuStorage::F32(out.into_iter().map(|v| v as f32).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_index_ops() {
        // x = [[0,1,2],[3,4,5]]
        let x = CpuStorage::F32((0..6).map(|v| v as f32).collect());
        let lx = Layout::contiguous([2, 3]);
        let ids = CpuStorage::U32(vec![2, 0, 2]);
        let l3 = Layout::contiguous([3]);
        let sel = index_select(&x, &lx, 1, &ids, &l3).unwrap();
        assert_eq!(sel, CpuStorage::F32(vec![2.0, 0.0, 2.0, 5.0, 3.0, 5.0]));
        let rows = index_select(&x, &lx, 0, &CpuStorage::U32(vec![1]), &Layout::contiguous([1])).unwrap();
        assert_eq!(rows, CpuStorage::F32(vec![3.0, 4.0, 5.0]));
        let g = gather(&x, &lx, 1, &CpuStorage::U32(vec![1, 1, 0, 2]), &Layout::contiguous([2, 2]), "gather").unwrap();
        assert_eq!(g, CpuStorage::F32(vec![1.0, 1.0, 3.0, 5.0]));
        let gb = gather_backward(
            &CpuStorage::F32(vec![1.0, 2.0, 3.0]),
            &Layout::contiguous([3]),
            0,
            &CpuStorage::U32(vec![2, 0, 2]),
            &Layout::contiguous([3]),
            &[4],
        );
        assert_eq!(gb, CpuStorage::F32(vec![2.0, 0.0, 4.0, 0.0]), "repeated ids accumulate");
        let err = index_select(&x, &lx, 0, &CpuStorage::U32(vec![7]), &Layout::contiguous([1])).unwrap_err();
        assert!(err.to_string().contains("index 7"), "{err}");
    }
}
