//! Sorting and scans along the last axis of contiguous `[rows, n]` storage (the tensor
//! layer moves the sorted or scanned dim last). GPU: kernels/sort.rs, kernels/scan.rs.

use crate::CpuStorage;

/// A u32 whose unsigned order is the order PyTorch sorts floats in: -inf < ... < +inf <
/// NaN, with -0 equal to +0 and every NaN equal (each is mapped to one bit pattern, then
/// the sign-magnitude bits are flipped into an unsigned order). The GPU computes the same
/// key (`sortable` in shaders/sort.wgsl).
pub fn sortable_f32(v: f32) -> u32 {
    let v = if v.is_nan() {
        f32::NAN
    } else if v == 0.0 {
        0.0
    } else {
        v
    };
    let bits = v.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

fn sortable_i32(v: i32) -> u32 {
    (v as u32) ^ 0x8000_0000
}

/// The sort keys of contiguous storage (f16 through f32, which keeps its order).
fn keys(x: &CpuStorage) -> Vec<u32> {
    match x {
        CpuStorage::F32(v) => v.iter().map(|&v| sortable_f32(v)).collect(),
        CpuStorage::F16(v) => v.iter().map(|&v| sortable_f32(v.to_f32())).collect(),
        CpuStorage::U32(v) => v.clone(),
        CpuStorage::I32(v) => v.iter().map(|&v| sortable_i32(v)).collect(),
    }
}

/// For each of `rows` rows of `n` values: the indices that sort the row, ascending or
/// `descending`; equal values keep their order (a stable sort, so both devices agree).
pub fn argsort_rows(x: &CpuStorage, rows: usize, n: usize, descending: bool) -> Vec<u32> {
    let keys = keys(x);
    assert_eq!(keys.len(), rows * n, "argsort_rows: storage is not [rows, n]");
    let mut out = Vec::with_capacity(rows * n);
    for row in keys.chunks(n.max(1)).take(rows) {
        let mut idx: Vec<u32> = (0..n as u32).collect();
        if descending {
            idx.sort_by_key(|&i| std::cmp::Reverse(row[i as usize]));
        } else {
            idx.sort_by_key(|&i| row[i as usize]);
        }
        out.extend(idx);
    }
    out
}

/// Running sums along each of `rows` rows of `n` values (from the end when `reverse`),
/// accumulated in f64 for floats and wrapping for integers.
pub fn cumsum_rows(x: &CpuStorage, rows: usize, n: usize, reverse: bool) -> CpuStorage {
    fn scan<T: Copy, A: Copy>(
        v: &[T],
        n: usize,
        reverse: bool,
        zero: A,
        add: impl Fn(A, T) -> A,
        out: impl Fn(A) -> T,
    ) -> Vec<T> {
        let mut result = v.to_vec();
        for row in result.chunks_mut(n.max(1)) {
            let mut acc = zero;
            let mut step = |x: &mut T| {
                acc = add(acc, *x);
                *x = out(acc);
            };
            if reverse {
                row.iter_mut().rev().for_each(&mut step);
            } else {
                row.iter_mut().for_each(&mut step);
            }
        }
        result
    }
    assert_eq!(x.len(), rows * n, "cumsum_rows: storage is not [rows, n]");
    match x {
        CpuStorage::F32(v) => CpuStorage::F32(scan(v, n, reverse, 0f64, |a, x| a + f64::from(x), |a| a as f32)),
        CpuStorage::F16(v) => CpuStorage::F16(scan(v, n, reverse, 0f64, |a, x| a + x.to_f64(), half::f16::from_f64)),
        CpuStorage::U32(v) => CpuStorage::U32(scan(v, n, reverse, 0u32, u32::wrapping_add, |a| a)),
        CpuStorage::I32(v) => CpuStorage::I32(scan(v, n, reverse, 0i32, i32::wrapping_add, |a| a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_floats_totally_and_sorts_are_stable() {
        let v = [f32::NAN, 1.0, -0.0, 0.0, f32::NEG_INFINITY, -2.5, f32::INFINITY, 1.0];
        let x = CpuStorage::F32(v.to_vec());
        assert_eq!(argsort_rows(&x, 1, 8, false), [4, 5, 2, 3, 1, 7, 6, 0]);
        assert_eq!(argsort_rows(&x, 1, 8, true), [0, 6, 1, 7, 2, 3, 5, 4]);
        let nans = CpuStorage::F32(vec![-f32::NAN, 1.0, f32::NAN]);
        assert_eq!(argsort_rows(&nans, 1, 3, false), [1, 0, 2], "NaNs of either sign are equal and largest");
        let ints = CpuStorage::I32(vec![3, -1, i32::MIN, 3, 0, i32::MAX]);
        assert_eq!(argsort_rows(&ints, 2, 3, false), [2, 1, 0, 1, 0, 2]);
        assert_eq!(argsort_rows(&CpuStorage::U32(vec![]), 0, 5, false), Vec::<u32>::new());
    }

    #[test]
    fn cumsum_forward_and_reverse() {
        let x = CpuStorage::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let CpuStorage::F32(f) = cumsum_rows(&x, 2, 3, false) else { unreachable!() };
        assert_eq!(f, [1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
        let CpuStorage::F32(r) = cumsum_rows(&x, 2, 3, true) else { unreachable!() };
        assert_eq!(r, [6.0, 5.0, 3.0, 15.0, 11.0, 6.0]);
        let CpuStorage::I32(i) = cumsum_rows(&CpuStorage::I32(vec![i32::MAX, 1]), 1, 2, false) else { unreachable!() };
        assert_eq!(i, [i32::MAX, i32::MIN]);
    }
}
