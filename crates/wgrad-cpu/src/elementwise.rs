//! Elementwise kernels: unary, binary (inputs already broadcast to the output shape),
//! comparisons, `where`, casts and strided copies. Floats compute in f32 (f16 is
//! widened to f32 and rounded back); integers compute in i64 and wrap.

use crate::fastmath;
use crate::simd::wide;
use crate::storage::{strided_vec, HostElem};
use crate::strided::rows;
use crate::{with_storage, CpuStorage};
use half::f16;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use wgrad_core::ops::{BinaryOp, CmpOp, UnaryOp};
use wgrad_core::{DType, Layout, WithDType};

/// Above this many elements, elementwise maps run on rayon's pool.
const PARALLEL_MIN: usize = 1 << 16;

/// The f32 formula of each unary op; `s` is the op's scalar (the exponent of `PowScalar`).
#[inline]
pub fn unary_f32(op: UnaryOp, x: f32, s: f32) -> f32 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => 1.0 / x.sqrt(),
        // Not `x.max(0.0)`: that maps NaN to 0, and relu propagates NaN (PyTorch, WGSL kernel).
        UnaryOp::Relu => {
            if x <= 0.0 {
                0.0
            } else {
                x
            }
        }
        UnaryOp::Sigmoid => {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        }
        UnaryOp::Tanh => fastmath::tanh(x),
        UnaryOp::Gelu => fastmath::gelu(x),
        UnaryOp::GeluTanh => {
            let c = (2.0 / std::f32::consts::PI).sqrt();
            0.5 * x * (1.0 + fastmath::tanh(c * (x + 0.044715 * x * x * x)))
        }
        UnaryOp::PowScalar => x.powf(s),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Silu => x * unary_f32(UnaryOp::Sigmoid, x, s),
        UnaryOp::Softplus => {
            if x > 20.0 {
                x
            } else {
                x.exp().ln_1p()
            }
        }
        UnaryOp::LeakyRelu => when(x > 0.0, x, s * x),
        UnaryOp::Elu => {
            if x > 0.0 {
                x
            } else {
                s * x.exp_m1()
            }
        }
    }
}

/// `then` where `cond` holds, else `otherwise` (both evaluated, as WGSL's `select`: for
/// cheap operands; a transcendental branch stays an `if`).
#[inline]
fn when(cond: bool, then: f32, otherwise: f32) -> f32 {
    if cond {
        then
    } else {
        otherwise
    }
}

/// The derivative of each unary op at `x`, times the incoming gradient `g`.
#[inline]
pub fn unary_grad_f32(op: UnaryOp, x: f32, g: f32, s: f32) -> f32 {
    match op {
        UnaryOp::Neg => -g,
        UnaryOp::Abs => g * when(x > 0.0, 1.0, when(x < 0.0, -1.0, 0.0)),
        UnaryOp::Exp => g * x.exp(),
        UnaryOp::Log => g / x,
        UnaryOp::Sqrt => g * 0.5 / x.sqrt(),
        UnaryOp::Rsqrt => g * -0.5 / (x * x.sqrt()),
        UnaryOp::Relu => when(x > 0.0, g, 0.0),
        UnaryOp::Sigmoid => {
            let y = unary_f32(UnaryOp::Sigmoid, x, s);
            g * y * (1.0 - y)
        }
        UnaryOp::Tanh => {
            let t = fastmath::tanh(x);
            g * (1.0 - t * t)
        }
        UnaryOp::Gelu => fastmath::gelu_grad(x, g),
        UnaryOp::GeluTanh => {
            let c = (2.0 / std::f32::consts::PI).sqrt();
            let t = fastmath::tanh(c * (x + 0.044715 * x * x * x));
            g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x))
        }
        UnaryOp::PowScalar => {
            if s == 0.0 {
                0.0
            } else {
                g * s * x.powf(s - 1.0)
            }
        }
        UnaryOp::Sin => g * x.cos(),
        UnaryOp::Cos => -g * x.sin(),
        UnaryOp::Silu => {
            let y = unary_f32(UnaryOp::Sigmoid, x, s);
            g * y * (1.0 + x * (1.0 - y))
        }
        UnaryOp::Softplus => {
            if x > 20.0 {
                g
            } else {
                g * unary_f32(UnaryOp::Sigmoid, x, s)
            }
        }
        UnaryOp::LeakyRelu => when(x > 0.0, g, g * s),
        UnaryOp::Elu => {
            if x > 0.0 {
                g
            } else {
                g * s * x.exp()
            }
        }
    }
}

fn unary_i64(op: UnaryOp, x: i64) -> i64 {
    match op {
        UnaryOp::Neg => x.wrapping_neg(),
        UnaryOp::Abs => x.abs(),
        UnaryOp::Relu => x.max(0),
        _ => panic!("{}: not implemented for integer tensors", op.name()),
    }
}

/// The f32 formula of each binary op. Max/min propagate NaN as PyTorch does.
pub fn binary_f32(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Max => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                a.max(b)
            }
        }
        BinaryOp::Min => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                a.min(b)
            }
        }
        BinaryOp::Pow => a.powf(b),
    }
}

/// Runs `$body` with `$f` bound to the f32 formula of `$op` as its own closure for the
/// four arithmetic ops, so their loops are monomorphised and vectorise (a `match` per
/// element does not); the rest go through [`binary_f32`].
macro_rules! with_f32_op {
    ($op:expr, $f:ident => $body:expr) => {
        match $op {
            BinaryOp::Add => {
                let $f = |p: f32, q: f32| p + q;
                $body
            }
            BinaryOp::Sub => {
                let $f = |p: f32, q: f32| p - q;
                $body
            }
            BinaryOp::Mul => {
                let $f = |p: f32, q: f32| p * q;
                $body
            }
            BinaryOp::Div => {
                let $f = |p: f32, q: f32| p / q;
                $body
            }
            op => {
                let $f = |p: f32, q: f32| binary_f32(op, p, q);
                $body
            }
        }
    };
}

/// Integer formulas, with 32-bit wrapping. Division truncates; `x / 0` is `x`, as in WGSL.
fn binary_i64(op: BinaryOp, a: i64, b: i64) -> i64 {
    match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div => {
            if b == 0 {
                a
            } else {
                a.wrapping_div(b)
            }
        }
        BinaryOp::Max => a.max(b),
        BinaryOp::Min => a.min(b),
        BinaryOp::Pow => panic!("pow: not implemented for integer tensors"),
    }
}

/// Elementwise map of one strided input into a new contiguous vector.
fn map1<A: Copy + Sync, O: Copy + Default + Send>(a: &[A], la: &Layout, f: impl Fn(A) -> O + Sync) -> Vec<O> {
    if la.is_contiguous() {
        let src = &a[la.offset()..la.offset() + la.numel()];
        return fill_chunks(
            src.len(),
            #[inline(always)]
            |start, dst| {
                let end = start + dst.len();
                dst.iter_mut().zip(&src[start..end]).for_each(|(d, &x)| _ = d.write(f(x)))
            },
        );
    }
    if la.numel() == 0 {
        return Vec::new();
    }
    let r = rows(&[la]);
    let (n, s) = (r.len, r.strides[0]);
    fill_rows(
        la.numel(),
        n,
        #[inline(always)]
        |row, dst| {
            let i = r.starts[row];
            if s == 1 {
                dst.iter_mut().zip(&a[i..i + n]).for_each(|(d, &x)| _ = d.write(f(x)));
            } else {
                dst.iter_mut().enumerate().for_each(|(k, d)| _ = d.write(f(a[i + k * s])));
            }
        },
    )
}

/// Elementwise map of two strided inputs of the same logical shape (broadcast dims have
/// stride 0), a row of the innermost dim at a time.
fn map2<A: Copy + Sync, B: Copy + Sync, O: Copy + Default + Send>(
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    f: impl Fn(A, B) -> O + Sync,
) -> Vec<O> {
    if la.is_contiguous() && lb.is_contiguous() {
        let (sa, sb) = (&a[la.offset()..la.offset() + la.numel()], &b[lb.offset()..lb.offset() + lb.numel()]);
        return fill_chunks(
            sa.len(),
            #[inline(always)]
            |start, dst| {
                let end = start + dst.len();
                dst.iter_mut()
                    .zip(sa[start..end].iter().zip(&sb[start..end]))
                    .for_each(|(d, (&x, &y))| _ = d.write(f(x, y)))
            },
        );
    }
    if la.numel() == 0 {
        return Vec::new();
    }
    let r = rows(&[la, lb]);
    let (n, si, sj) = (r.len, r.strides[0], r.strides[1]);
    fill_rows(
        la.numel(),
        n,
        #[inline(always)]
        |row, dst| {
            let (i, j) = (r.starts[2 * row], r.starts[2 * row + 1]);
            // The common shapes (bias rows, scalars broadcast along a row) get loops the
            // compiler vectorises.
            match (si, sj) {
                (1, 1) => dst
                    .iter_mut()
                    .zip(a[i..i + n].iter().zip(&b[j..j + n]))
                    .for_each(|(d, (&x, &y))| _ = d.write(f(x, y))),
                (1, 0) => dst.iter_mut().zip(&a[i..i + n]).for_each(|(d, &x)| _ = d.write(f(x, b[j]))),
                (0, 1) => dst.iter_mut().zip(&b[j..j + n]).for_each(|(d, &y)| _ = d.write(f(a[i], y))),
                _ => dst.iter_mut().enumerate().for_each(|(k, d)| _ = d.write(f(a[i + k * si], b[j + k * sj]))),
            }
        },
    )
}

/// Elements per task of a contiguous map: big enough to amortise a rayon task, and a plain
/// slice loop inside, which the compiler vectorises.
const CHUNK: usize = 16 * 1024;

/// A new vector of `numel` elements filled by `fill(start, out_chunk)` for each chunk of
/// [`CHUNK`] elements from `start`, on rayon's pool when it is big. `fill` writes every
/// element of its chunk (the memory is not zeroed first: that memset was 3-4% of a BERT
/// forward).
fn fill_chunks<O: Copy + Send>(numel: usize, fill: impl Fn(usize, &mut [MaybeUninit<O>]) + Sync) -> Vec<O> {
    let mut out = Vec::with_capacity(numel);
    let dst = &mut out.spare_capacity_mut()[..numel];
    if numel >= PARALLEL_MIN {
        dst.par_chunks_mut(CHUNK).enumerate().for_each(|(k, dst)| {
            wide(
                #[inline(always)]
                || fill(k * CHUNK, dst),
            )
        });
    } else {
        wide(
            #[inline(always)]
            || fill(0, dst),
        );
    }
    // Safety: every chunk of the first `numel` elements was written by `fill`.
    unsafe { out.set_len(numel) };
    out
}

/// A new vector of `numel` elements filled by `fill(row, out_row)` for each row of `len`
/// elements, on rayon's pool when it is big. `fill` writes every element of its row.
fn fill_rows<O: Copy + Send>(numel: usize, len: usize, fill: impl Fn(usize, &mut [MaybeUninit<O>]) + Sync) -> Vec<O> {
    let mut out = Vec::with_capacity(numel);
    let dst = &mut out.spare_capacity_mut()[..numel];
    if numel >= PARALLEL_MIN {
        // Tasks of whole rows, about CHUNK elements each: short rows would otherwise cost
        // a task and a dispatch to the wide loop apiece.
        let rows_per_task = (CHUNK / len.max(1)).max(1);
        dst.par_chunks_mut(len * rows_per_task).enumerate().for_each(|(task, block)| {
            wide(
                #[inline(always)]
                || {
                    let first = task * rows_per_task;
                    block.chunks_mut(len).enumerate().for_each(|(r, dst)| fill(first + r, dst))
                },
            )
        });
    } else {
        wide(
            #[inline(always)]
            || dst.chunks_mut(len).enumerate().for_each(|(row, dst)| fill(row, dst)),
        );
    }
    // Safety: every row of the first `numel` elements was written by `fill`.
    unsafe { out.set_len(numel) };
    out
}

/// Applies a unary op; `scalar` is the exponent for `PowScalar`. Output is contiguous.
pub fn unary(op: UnaryOp, scalar: f64, x: &CpuStorage, layout: &Layout) -> CpuStorage {
    let s = scalar as f32;
    match x {
        // The hot ones get their own loops (a `match` per element keeps them scalar).
        CpuStorage::F32(v) => CpuStorage::F32(match op {
            UnaryOp::Relu => map1(v, layout, |x| unary_f32(UnaryOp::Relu, x, s)),
            UnaryOp::Tanh => map1(v, layout, fastmath::tanh),
            UnaryOp::Gelu => map1(v, layout, fastmath::gelu),
            UnaryOp::Neg => map1(v, layout, |x| -x),
            _ => map1(v, layout, |x| unary_f32(op, x, s)),
        }),
        CpuStorage::F16(v) => CpuStorage::F16(map1(v, layout, |x| f16::from_f32(unary_f32(op, x.to_f32(), s)))),
        CpuStorage::U32(v) => CpuStorage::U32(map1(v, layout, |x| unary_i64(op, x as i64) as u32)),
        CpuStorage::I32(v) => CpuStorage::I32(map1(v, layout, |x| unary_i64(op, x as i64) as i32)),
    }
}

/// `grad * op'(x)` elementwise for a float unary op; `x` and `g` share one shape.
pub fn unary_grad(op: UnaryOp, scalar: f64, x: &CpuStorage, lx: &Layout, g: &CpuStorage, lg: &Layout) -> CpuStorage {
    let s = scalar as f32;
    match (x, g) {
        (CpuStorage::F32(x), CpuStorage::F32(g)) => CpuStorage::F32(match op {
            UnaryOp::Relu => map2(x, lx, g, lg, |a, b| unary_grad_f32(UnaryOp::Relu, a, b, s)),
            UnaryOp::Tanh => map2(x, lx, g, lg, |a, b| unary_grad_f32(UnaryOp::Tanh, a, b, s)),
            // The derivative (erf and exp) is too big for LLVM to vectorise through map2's
            // closure, even inlined in the wide loop: the slice kernel is 3.3x faster
            // (8 Mi elements: 21 vs 70 ms, AVX-512, 2 threads).
            UnaryOp::Gelu if lx.is_contiguous() && lg.is_contiguous() => {
                let (x, g) = (&x[lx.offset()..lx.offset() + lx.numel()], &g[lg.offset()..lg.offset() + lg.numel()]);
                fill_chunks(
                    x.len(),
                    #[inline(always)]
                    |start, dst| {
                        let end = start + dst.len();
                        fastmath::gelu_grad_slice(&x[start..end], &g[start..end], dst)
                    },
                )
            }
            UnaryOp::Gelu => map2(x, lx, g, lg, fastmath::gelu_grad),
            _ => map2(x, lx, g, lg, |a, b| unary_grad_f32(op, a, b, s)),
        }),
        (CpuStorage::F16(x), CpuStorage::F16(g)) => {
            CpuStorage::F16(map2(x, lx, g, lg, |a, b| f16::from_f32(unary_grad_f32(op, a.to_f32(), b.to_f32(), s))))
        }
        _ => panic!("{} backward: expected float tensors of one dtype", op.name()),
    }
}

/// Applies a binary op to two inputs of one dtype whose layouts share the output shape.
pub fn binary(op: BinaryOp, a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout) -> CpuStorage {
    match (a, b) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => CpuStorage::F32(with_f32_op!(op, f => map2(x, la, y, lb, f))),
        (CpuStorage::F16(x), CpuStorage::F16(y)) => {
            CpuStorage::F16(map2(x, la, y, lb, |p, q| f16::from_f32(binary_f32(op, p.to_f32(), q.to_f32()))))
        }
        (CpuStorage::U32(x), CpuStorage::U32(y)) => {
            CpuStorage::U32(map2(x, la, y, lb, |p, q| binary_i64(op, p as i64, q as i64) as u32))
        }
        (CpuStorage::I32(x), CpuStorage::I32(y)) => {
            CpuStorage::I32(map2(x, la, y, lb, |p, q| binary_i64(op, p as i64, q as i64) as i32))
        }
        _ => panic!("{}: dtypes differ ({} and {})", op.name(), a.dtype(), b.dtype()),
    }
}

/// `x op scalar`, with the scalar converted to x's dtype.
pub fn binary_scalar(op: BinaryOp, x: &CpuStorage, layout: &Layout, scalar: f64) -> CpuStorage {
    match x {
        CpuStorage::F32(v) => {
            let s = scalar as f32;
            CpuStorage::F32(with_f32_op!(op, f => map1(v, layout, |p| f(p, s))))
        }
        CpuStorage::F16(v) => {
            let s = f16::from_f64(scalar).to_f32();
            CpuStorage::F16(map1(v, layout, |p| f16::from_f32(binary_f32(op, p.to_f32(), s))))
        }
        CpuStorage::U32(v) => {
            let s = scalar as u32 as i64;
            CpuStorage::U32(map1(v, layout, |p| binary_i64(op, p as i64, s) as u32))
        }
        CpuStorage::I32(v) => {
            let s = scalar as i32 as i64;
            CpuStorage::I32(map1(v, layout, |p| binary_i64(op, p as i64, s) as i32))
        }
    }
}

fn compare<T: PartialOrd>(op: CmpOp, a: T, b: T) -> u32 {
    let r = match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    };
    r as u32
}

/// Compares two inputs of one dtype; the result is u32 0/1.
pub fn cmp(op: CmpOp, a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout) -> CpuStorage {
    let out = match (a, b) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => map2(x, la, y, lb, |p, q| compare(op, p, q)),
        (CpuStorage::F16(x), CpuStorage::F16(y)) => map2(x, la, y, lb, |p, q| compare(op, p, q)),
        (CpuStorage::U32(x), CpuStorage::U32(y)) => map2(x, la, y, lb, |p, q| compare(op, p, q)),
        (CpuStorage::I32(x), CpuStorage::I32(y)) => map2(x, la, y, lb, |p, q| compare(op, p, q)),
        _ => panic!("{}: dtypes differ ({} and {})", op.name(), a.dtype(), b.dtype()),
    };
    CpuStorage::U32(out)
}

/// `cond ? a : b` elementwise (cond is non-zero test); all three layouts share one shape.
pub fn where_cond(
    cond: &CpuStorage,
    lc: &Layout,
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
) -> CpuStorage {
    let mask: Vec<bool> = with_storage!(cond, c => map1(c, lc, |x| x.to_f64() != 0.0));
    fn pick<T: Copy>(mask: &[bool], a: &[T], la: &Layout, b: &[T], lb: &Layout) -> Vec<T> {
        la.indices().zip(lb.indices()).zip(mask).map(|((i, j), &m)| if m { a[i] } else { b[j] }).collect()
    }
    match (a, b) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => CpuStorage::F32(pick(&mask, x, la, y, lb)),
        (CpuStorage::F16(x), CpuStorage::F16(y)) => CpuStorage::F16(pick(&mask, x, la, y, lb)),
        (CpuStorage::U32(x), CpuStorage::U32(y)) => CpuStorage::U32(pick(&mask, x, la, y, lb)),
        (CpuStorage::I32(x), CpuStorage::I32(y)) => CpuStorage::I32(pick(&mask, x, la, y, lb)),
        _ => panic!("where: dtypes differ ({} and {})", a.dtype(), b.dtype()),
    }
}

/// Converts to `dtype` (floats round to nearest; float to int truncates toward zero and
/// saturates; i32 <-> u32 wraps).
pub fn cast(x: &CpuStorage, layout: &Layout, dtype: DType) -> CpuStorage {
    fn conv<A: WithDType, O: WithDType + Default + Send>(v: &[A], l: &Layout) -> Vec<O> {
        map1(v, l, |x| O::from_f64(x.to_f64()))
    }
    fn to<O: HostElem + Default + Send>(x: &CpuStorage, l: &Layout) -> CpuStorage {
        CpuStorage::from_vec::<O>(with_storage!(x, v => conv(v, l)))
    }
    // Between the two 32-bit integer types the bits are kept (two's complement wrap), as
    // in PyTorch and WGSL; going through f64 would saturate instead.
    match (x, dtype) {
        (CpuStorage::I32(v), DType::U32) => return CpuStorage::U32(map1(v, layout, |x| x as u32)),
        (CpuStorage::U32(v), DType::I32) => return CpuStorage::I32(map1(v, layout, |x| x as i32)),
        _ => {}
    }
    match dtype {
        DType::F32 => to::<f32>(x, layout),
        DType::F16 => to::<f16>(x, layout),
        DType::U32 => to::<u32>(x, layout),
        DType::I32 => to::<i32>(x, layout),
    }
}

/// Copies the elements of `src` (viewed through `ls`) into `dst` at the positions of `ld`.
pub fn copy_into(src: &CpuStorage, ls: &Layout, dst: &mut CpuStorage, ld: &Layout) {
    assert_eq!(ls.dims(), ld.dims(), "copy: shapes differ");
    fn go<T: Copy>(s: &[T], ls: &Layout, d: &mut [T], ld: &Layout) {
        if ld.is_contiguous() {
            let vals = strided_vec(s, ls);
            d[ld.offset()..ld.offset() + vals.len()].copy_from_slice(&vals);
        } else {
            for (i, j) in ls.indices().zip(ld.indices()) {
                d[j] = s[i];
            }
        }
    }
    match (src, dst) {
        (CpuStorage::F32(s), CpuStorage::F32(d)) => go(s, ls, d, ld),
        (CpuStorage::F16(s), CpuStorage::F16(d)) => go(s, ls, d, ld),
        (CpuStorage::U32(s), CpuStorage::U32(d)) => go(s, ls, d, ld),
        (CpuStorage::I32(s), CpuStorage::I32(d)) => go(s, ls, d, ld),
        (s, d) => panic!("copy: dtypes differ ({} and {})", s.dtype(), d.dtype()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_unary_and_binary() {
        let x = CpuStorage::F32(vec![-1.0, 0.0, 2.0]);
        let l = Layout::contiguous([3]);
        assert_eq!(unary(UnaryOp::Relu, 0.0, &x, &l), CpuStorage::F32(vec![0.0, 0.0, 2.0]));
        let g = unary(UnaryOp::Gelu, 0.0, &x, &l);
        let g = g.as_slice::<f32>().unwrap();
        assert!((g[0] + 0.158_655_25).abs() < 1e-6 && (g[2] - 1.954_499_7).abs() < 1e-6);
        let b = Layout::contiguous([1]).broadcast_to(&[3]);
        let y = CpuStorage::F32(vec![10.0]);
        assert_eq!(binary(BinaryOp::Sub, &x, &l, &y, &b), CpuStorage::F32(vec![-11.0, -10.0, -8.0]));
        let i = CpuStorage::I32(vec![7, -7, 3]);
        assert_eq!(binary_scalar(BinaryOp::Div, &i, &l, 2.0), CpuStorage::I32(vec![3, -3, 1]));
    }

    #[test]
    fn strided_copy_into_a_narrowed_view() {
        let src = CpuStorage::U32(vec![1, 2, 3, 4]);
        let mut dst = CpuStorage::U32(vec![0; 6]);
        let ld = Layout::contiguous([2, 3]).narrow(1, 1, 2);
        copy_into(&src, &Layout::contiguous([2, 2]), &mut dst, &ld);
        assert_eq!(dst, CpuStorage::U32(vec![0, 1, 2, 0, 3, 4]));
    }
}
