//! Batched matrix multiply through the `gemm` crate, which reads any strides, so
//! transposed operands need no copy.

use crate::CpuStorage;
use half::f16;
use wgrad_core::Layout;

/// Sizes of a batched product `[batch, m, k] @ [batch, k, n]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// `a @ b` where `la` is a rank-3 view `[batch, m, k]` and `lb` is `[batch, k, n]`
/// (any strides, including 0 for broadcast batches). Returns a contiguous `[batch, m, n]`.
pub fn matmul(a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout, d: MatmulDims) -> CpuStorage {
    assert_eq!(la.dims(), &[d.batch, d.m, d.k], "matmul: lhs layout");
    assert_eq!(lb.dims(), &[d.batch, d.k, d.n], "matmul: rhs layout");
    match (a, b) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => CpuStorage::F32(gemm_batched(x, la, y, lb, d, 0.0, 1.0)),
        (CpuStorage::F16(x), CpuStorage::F16(y)) => CpuStorage::F16(gemm_batched(x, la, y, lb, d, f16::ZERO, f16::ONE)),
        _ => panic!("matmul: expected two float tensors of one dtype, got {} and {}", a.dtype(), b.dtype()),
    }
}

fn gemm_batched<T: Copy + Default + 'static + Send + Sync>(
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
    d: MatmulDims,
    zero: T,
    one: T,
) -> Vec<T> {
    let mut out = vec![T::default(); d.batch * d.m * d.n];
    if d.m == 0 || d.n == 0 {
        return out;
    }
    let (sa, sb) = (la.strides(), lb.strides());
    let threads = rayon::current_num_threads();
    let parallelism = if d.m * d.n * d.k >= 64 * 64 * 64 && threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    for (bi, dst) in out.chunks_mut(d.m * d.n).enumerate() {
        if d.k == 0 {
            continue;
        }
        let a_off = la.offset() + bi * sa[0];
        let b_off = lb.offset() + bi * sb[0];
        // Safety: every index the kernel reads is within the views, which the caller
        // built inside the storages; dst is exactly m x n, row-major.
        unsafe {
            gemm::gemm(
                d.m,
                d.n,
                d.k,
                dst.as_mut_ptr(),
                1,
                d.n as isize,
                false,
                a.as_ptr().add(a_off),
                sa[2] as isize,
                sa[1] as isize,
                b.as_ptr().add(b_off),
                sb[2] as isize,
                sb[1] as isize,
                zero,
                one,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
    out
}

/// `dst [m, n] = a [m, k] @ b [k, n]` (f32) on the calling thread; `a` and `b` are
/// (data, row stride, column stride), `dst` is contiguous.
pub(crate) fn gemm_f32(m: usize, n: usize, k: usize, dst: &mut [f32], a: Strided, b: Strided) {
    gemm_f32_acc(m, n, k, dst, a, b, false, 1.0);
}

/// An f32 matrix operand: (data, row stride, column stride).
pub(crate) type Strided<'a> = (&'a [f32], usize, usize);

/// [`gemm_f32`] computing `dst = scale * a @ b`, or `dst += scale * a @ b` with
/// `accumulate`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_f32_acc(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    a: Strided,
    b: Strided,
    accumulate: bool,
    scale: f32,
) {
    let last = |rows: usize, cols: usize, (_, rs, cs): Strided| (rows - 1) * rs + (cols - 1) * cs;
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n, "gemm_f32: dst too small");
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    assert!(last(m, k, a) < a.0.len() && last(k, n, b) < b.0.len(), "gemm_f32: operand out of bounds");
    // Safety: the asserts above keep every index the kernel touches inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.0.as_ptr(),
            a.2 as isize,
            a.1 as isize,
            b.0.as_ptr(),
            b.2 as isize,
            b.1 as isize,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_product_with_transposed_rhs() {
        // [[1,2],[3,4]] @ [[5,6],[7,8]]^T = [[17,23],[39,53]]
        let a = CpuStorage::F32(vec![1.0, 2.0, 3.0, 4.0]);
        let b = CpuStorage::F32(vec![5.0, 6.0, 7.0, 8.0]);
        let la = Layout::contiguous([1, 2, 2]);
        let lb = Layout::contiguous([1, 2, 2]).transpose(1, 2);
        let d = MatmulDims { batch: 1, m: 2, k: 2, n: 2 };
        assert_eq!(matmul(&a, &la, &b, &lb, d), CpuStorage::F32(vec![17.0, 23.0, 39.0, 53.0]));
    }
}
