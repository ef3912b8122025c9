//! Batched matrix multiply through the `gemm` crate, which reads any strides, so
//! transposed operands need no copy.

use crate::CpuStorage;
use half::f16;
use rayon::prelude::*;
use wgrad_core::Layout;

/// Largest product (m * n * k) that batched matmuls run one per thread: 256³, W1b's.
const BATCH_ITEM_MAX_WORK: usize = 256 * 256 * 256;

/// The output pointer, shared by the threads that each write their own batch items.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// Safety: each thread writes a disjoint block through it (see gemm_batched).
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The element `offset` places on. Safety: inside the allocation.
    unsafe fn at(self, offset: usize) -> *mut T {
        self.0.add(offset)
    }
}

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
    let len = d.batch * d.m * d.n;
    if d.m == 0 || d.n == 0 || d.k == 0 {
        return vec![T::default(); len];
    }
    // The GEMM writes every output element without reading it (no accumulation), so the
    // buffer is not zeroed first: a memset of every product's output was 3-4% of a BERT
    // forward once freed buffers were reused.
    let mut out: Vec<T> = Vec::with_capacity(len);
    let (sa, sb) = (la.strides(), lb.strides());
    let threads = rayon::current_num_threads();
    // Many products run one per thread (each GEMM alone: no wake-up of the pool per
    // product); a few big ones each use every thread. Either way each output element is
    // summed in the same order, so the results are identical.
    let per_item = d.batch >= 2 * threads && d.m * d.n * d.k <= BATCH_ITEM_MAX_WORK;
    let parallelism = if !per_item && d.m * d.n * d.k >= 64 * 64 * 64 && threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let dst = SendPtr(out.as_mut_ptr());
    let product = |bi: usize| {
        let a_off = la.offset() + bi * sa[0];
        let b_off = lb.offset() + bi * sb[0];
        // Safety: every index the kernel reads is within the views, which the caller
        // built inside the storages; it writes (never reads) batch item bi's m x n
        // row-major block of `out`'s capacity through a raw pointer, and no other item
        // touches that block.
        unsafe {
            gemm::gemm(
                d.m,
                d.n,
                d.k,
                dst.at(bi * d.m * d.n),
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
    };
    if per_item {
        (0..d.batch).into_par_iter().for_each(product);
    } else {
        (0..d.batch).for_each(product);
    }
    // Safety: the loop above wrote all `len` elements (k > 0: no path of the GEMM leaves
    // an output unwritten or reads one when it does not accumulate).
    unsafe { out.set_len(len) };
    out
}

/// An f32 matrix view: element (i, j) at `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major rows of `cols` elements.
    pub fn rows(data: &'a [f32], cols: usize) -> Mat<'a> {
        Mat { data, rs: cols, cs: 1 }
    }

    /// The transpose of row-major rows of `cols` elements.
    pub fn transposed(data: &'a [f32], cols: usize) -> Mat<'a> {
        Mat { data, rs: 1, cs: cols }
    }

    /// True if a `rows` x `cols` matrix lies inside the slice.
    fn holds(&self, rows: usize, cols: usize) -> bool {
        (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// How [`gemm_f32`] writes `scale * a @ b`: `Gemm::SET` overwrites, `Gemm::ADD` adds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gemm {
    /// Add to the destination instead of overwriting it.
    pub accumulate: bool,
    /// Multiplies the product.
    pub scale: f32,
    /// Big products run on rayon's pool; callers already parallel over batch items or
    /// heads leave this false.
    pub parallel: bool,
}

impl Gemm {
    /// `dst = a @ b`, on the calling thread.
    pub const SET: Gemm = Gemm { accumulate: false, scale: 1.0, parallel: false };
    /// `dst += a @ b`, on the calling thread.
    pub const ADD: Gemm = Gemm { accumulate: true, scale: 1.0, parallel: false };

    /// The same with the product times `scale`.
    pub fn scaled(self, scale: f32) -> Gemm {
        Gemm { scale, ..self }
    }

    /// The same, on rayon's pool when `parallel` and the product is big.
    pub fn parallel(self, parallel: bool) -> Gemm {
        Gemm { parallel, ..self }
    }
}

/// The f32 GEMM every CPU kernel calls: `dst = scale * a [m, k] @ b [k, n]`, or `dst +=`
/// (see [`Gemm`]). `dst` is `(data, row stride, column stride)` over a dense m x n block
/// (row-major or transposed).
pub(crate) fn gemm_f32(dst: (&mut [f32], usize, usize), a: Mat, b: Mat, [m, k, n]: [usize; 3], how: Gemm) {
    let Gemm { accumulate, scale, parallel } = how;
    let (dst, dst_rs, dst_cs) = dst;
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n && (m - 1) * dst_rs + (n - 1) * dst_cs < dst.len(), "gemm_f32: dst out of bounds");
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    assert!(a.holds(m, k) && b.holds(k, n), "gemm_f32: operand out of bounds");
    let threads = rayon::current_num_threads();
    let parallelism = if parallel && m * n * k >= 64 * 64 * 64 && threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // Safety: the asserts above keep every index the kernel touches inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            parallelism,
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
