//! Host storage: one flat vector per tensor, in one of the supported dtypes.

use half::f16;
use wgrad_core::{DType, Layout, WithDType};

/// A flat host buffer holding the elements of one or more tensor views.
#[derive(Debug, Clone, PartialEq)]
pub enum CpuStorage {
    F32(Vec<f32>),
    F16(Vec<f16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`CpuStorage`].
#[macro_export]
macro_rules! with_storage {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::CpuStorage::F32($v) => $body,
            $crate::CpuStorage::F16($v) => $body,
            $crate::CpuStorage::U32($v) => $body,
            $crate::CpuStorage::I32($v) => $body,
        }
    };
}

/// Conversion between a typed vector and [`CpuStorage`].
pub trait HostElem: WithDType {
    /// Wraps a vector.
    fn into_storage(v: Vec<Self>) -> CpuStorage;
    /// Borrows the vector if the dtype matches.
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
}

macro_rules! host_elem {
    ($t:ty, $variant:ident) => {
        impl HostElem for $t {
            fn into_storage(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
host_elem!(f32, F32);
host_elem!(f16, F16);
host_elem!(u32, U32);
host_elem!(i32, I32);

impl CpuStorage {
    /// Wraps a typed vector.
    pub fn from_vec<T: HostElem>(v: Vec<T>) -> Self {
        T::into_storage(v)
    }

    /// The typed slice, or None if the dtype differs.
    pub fn as_slice<T: HostElem>(&self) -> Option<&[T]> {
        T::slice(self)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::U32(_) => DType::U32,
            CpuStorage::I32(_) => DType::I32,
        }
    }

    /// Number of elements held.
    pub fn len(&self) -> usize {
        with_storage!(self, v => v.len())
    }

    /// True when no elements are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `n` copies of `value` (converted to `dtype`).
    pub fn full(value: f64, n: usize, dtype: DType) -> Self {
        match dtype {
            DType::F32 => CpuStorage::F32(vec![value as f32; n]),
            DType::F16 => CpuStorage::F16(vec![f16::from_f64(value); n]),
            DType::U32 => CpuStorage::U32(vec![value as u32; n]),
            DType::I32 => CpuStorage::I32(vec![value as i32; n]),
        }
    }

    /// `start, start + step, ...` (`n` values) in `dtype`.
    pub fn arange(start: f64, step: f64, n: usize, dtype: DType) -> Self {
        let values = (0..n).map(|i| start + step * i as f64);
        match dtype {
            DType::F32 => CpuStorage::F32(values.map(|v| v as f32).collect()),
            DType::F16 => CpuStorage::F16(values.map(f16::from_f64).collect()),
            DType::U32 => CpuStorage::U32(values.map(|v| v as u32).collect()),
            DType::I32 => CpuStorage::I32(values.map(|v| v as i32).collect()),
        }
    }

    /// The elements of `layout`, copied out in row-major order.
    pub fn gather_layout(&self, layout: &Layout) -> CpuStorage {
        with_storage!(self, v => CpuStorage::from_vec(strided_vec(v, layout)))
    }

    /// The elements of `layout` as f64 in row-major order (used by tests and reductions).
    pub fn to_f64_vec(&self, layout: &Layout) -> Vec<f64> {
        with_storage!(self, v => layout.indices().map(|i| v[i].to_f64()).collect())
    }
}

/// The elements of `layout` in row-major order; a plain slice copy when contiguous.
pub fn strided_vec<T: Copy>(v: &[T], layout: &Layout) -> Vec<T> {
    if layout.is_contiguous() {
        let start = layout.offset();
        return v[start..start + layout.numel()].to_vec();
    }
    if layout.numel() == 0 {
        return Vec::new();
    }
    let r = crate::strided::rows(&[layout]);
    let (n, s) = (r.len, r.strides[0]);
    let mut out = Vec::with_capacity(layout.numel());
    for &start in &r.starts {
        if s == 1 {
            out.extend_from_slice(&v[start..start + n]);
        } else {
            out.extend((0..n).map(|k| v[start + k * s]));
        }
    }
    out
}
