//! Element types and the Rust types that carry them.

use half::f16;

/// The element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float, the working type.
    F32,
    /// 16-bit float (storage type; GPU only where the adapter has SHADER_F16).
    F16,
    /// 32-bit unsigned integer: indices, class ids, masks.
    U32,
    /// 32-bit signed integer.
    I32,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F16 => 2,
            DType::F32 | DType::U32 | DType::I32 => 4,
        }
    }

    /// True for F32 and F16.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16)
    }

    /// PyTorch-style name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::U32 => "u32",
            DType::I32 => "i32",
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust element type that a tensor can hold. Conversions go through f64, which
/// represents every value of every supported dtype exactly.
pub trait WithDType: Copy + Send + Sync + PartialOrd + std::fmt::Debug + bytemuck::Pod + 'static {
    /// The dtype this Rust type stands for.
    const DTYPE: DType;
    /// Exact widening conversion.
    fn to_f64(self) -> f64;
    /// Narrowing conversion (rounds floats, saturates integers).
    fn from_f64(v: f64) -> Self;
}

/// `WithDType` for the primitive types, whose conversions are `as` casts (rounding floats,
/// saturating integers).
macro_rules! with_dtype_as {
    ($($t:ty => $dtype:ident),*) => {$(
        impl WithDType for $t {
            const DTYPE: DType = DType::$dtype;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    )*};
}

with_dtype_as!(f32 => F32, u32 => U32, i32 => I32);

impl WithDType for f16 {
    const DTYPE: DType = DType::F16;
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
}
