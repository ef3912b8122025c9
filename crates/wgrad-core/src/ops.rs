//! The op declarations every backend implements, with their shape rules.
//! Backends match on these enums exhaustively, so a new variant shows up as a
//! compile error in each backend until it is implemented there.

use crate::{broadcast_shapes, Shape};

/// Declares an op enum from one list of `Variant => "pytorch_name"` entries, generating
/// the enum, its `name()` and its `ALL` (every variant in order, for tests and shader
/// validation), so a new variant cannot be left out of a registry.
macro_rules! op_enum {
    ($(#[$meta:meta])* pub enum $enum:ident { $($(#[$vmeta:meta])* $variant:ident => $name:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $enum {
            $($(#[$vmeta])* $variant,)*
        }

        impl $enum {
            /// Every variant, in declaration order.
            pub const ALL: [$enum; [$($name),*].len()] = [$($enum::$variant),*];

            /// Lower-case name, as in PyTorch.
            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)*
                }
            }
        }
    };
}

op_enum! {
    /// Elementwise ops of one float input. `Pow`'s exponent travels as the op's scalar.
    pub enum UnaryOp {
        Neg => "neg",
        Abs => "abs",
        Exp => "exp",
        Log => "log",
        Sqrt => "sqrt",
        Rsqrt => "rsqrt",
        Relu => "relu",
        Sigmoid => "sigmoid",
        Tanh => "tanh",
        /// GELU with the exact erf form.
        Gelu => "gelu",
        /// GELU with the tanh approximation.
        GeluTanh => "gelu_tanh",
        /// `x ^ scalar`.
        PowScalar => "pow",
        Sin => "sin",
        Cos => "cos",
        /// `x * sigmoid(x)` (SiLU, swish).
        Silu => "silu",
        /// `log(1 + exp(x))`, linear above 20 as PyTorch's (beta 1, threshold 20).
        Softplus => "softplus",
        /// `x` if positive, else `scalar * x` (the negative slope).
        LeakyRelu => "leaky_relu",
        /// `x` if positive, else `scalar * (exp(x) - 1)` (alpha).
        Elu => "elu",
    }
}

impl UnaryOp {
    /// Ops that are defined for integer tensors too.
    pub fn supports_int(self) -> bool {
        matches!(self, UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Relu)
    }
}

op_enum! {
    /// Elementwise ops of two inputs of the same dtype, with broadcasting.
    pub enum BinaryOp {
        Add => "add",
        Sub => "sub",
        Mul => "mul",
        Div => "div",
        Max => "maximum",
        Min => "minimum",
        /// Float only.
        Pow => "pow",
    }
}

op_enum! {
    /// Comparisons; the result is a u32 tensor of 0/1.
    pub enum CmpOp {
        Eq => "eq",
        Ne => "ne",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
    }
}

impl CmpOp {
    /// The operator symbol, shared by the CPU and WGSL implementations.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

op_enum! {
    /// Reductions over one or more dims.
    pub enum ReduceOp {
        Sum => "sum",
        /// Float only.
        Mean => "mean",
        Max => "max",
        Min => "min",
        /// Index (u32) of the first maximum.
        ArgMax => "argmax",
        /// Index (u32) of the first minimum.
        ArgMin => "argmin",
    }
}

impl ReduceOp {
    /// True for the ops returning indices.
    pub fn is_arg(self) -> bool {
        matches!(self, ReduceOp::ArgMax | ReduceOp::ArgMin)
    }
}

/// Shape rule of `matmul` (PyTorch semantics for rank >= 1 operands).
/// Returns (batch shape, m, k, n, output shape).
pub fn matmul_shape(a: &[usize], b: &[usize]) -> (Shape, usize, usize, usize, Shape) {
    assert!(!a.is_empty() && !b.is_empty(), "matmul: both arguments need at least 1 dim, got {a:?} and {b:?}");
    let (a_m, a_k) = if a.len() == 1 { (1, a[0]) } else { (a[a.len() - 2], a[a.len() - 1]) };
    let (b_k, b_n) = if b.len() == 1 { (b[0], 1) } else { (b[b.len() - 2], b[b.len() - 1]) };
    assert_eq!(a_k, b_k, "matmul: shapes {a:?} and {b:?} cannot be multiplied ({a_m}x{a_k} and {b_k}x{b_n})");
    let a_batch = &a[..a.len().saturating_sub(2)];
    let b_batch = &b[..b.len().saturating_sub(2)];
    let batch = broadcast_shapes(a_batch, b_batch, "matmul");
    let mut out = batch.dims().to_vec();
    if a.len() > 1 {
        out.push(a_m);
    }
    if b.len() > 1 {
        out.push(b_n);
    }
    (batch, a_m, a_k, b_n, Shape::from(out))
}

/// Shape after reducing `dims` (sorted, deduplicated by the caller) with or without keepdim.
pub fn reduce_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Shape {
    let mut out = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    Shape::from(out)
}

/// Shape of `cat(tensors, dim)`; panics naming the mismatch.
pub fn cat_shape(shapes: &[&[usize]], dim: usize) -> Shape {
    assert!(!shapes.is_empty(), "cat: expected a non-empty list of tensors");
    let first = shapes[0];
    let mut out = first.to_vec();
    out[dim] = 0;
    for s in shapes {
        assert!(
            s.len() == first.len() && s.iter().zip(first).enumerate().all(|(i, (a, b))| i == dim || a == b),
            "cat: sizes of tensors must match except in dimension {dim}, got {first:?} and {s:?}"
        );
        out[dim] += s[dim];
    }
    Shape::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_shapes_broadcast_batches() {
        let (batch, m, k, n, out) = matmul_shape(&[2, 1, 3, 4], &[5, 4, 6]);
        assert_eq!((batch.dims(), m, k, n, out.dims()), (&[2, 5][..], 3, 4, 6, &[2, 5, 3, 6][..]));
        assert_eq!(matmul_shape(&[4], &[4, 6]).4.dims(), &[6]);
        assert_eq!(matmul_shape(&[3, 4], &[4]).4.dims(), &[3]);
    }

    #[test]
    #[should_panic(expected = "cannot be multiplied")]
    fn matmul_mismatch_panics() {
        matmul_shape(&[3, 4], &[5, 6]);
    }

    #[test]
    fn reduce_and_cat_shapes() {
        assert_eq!(reduce_shape(&[2, 3, 4], &[1], true).dims(), &[2, 1, 4]);
        assert_eq!(reduce_shape(&[2, 3, 4], &[0, 2], false).dims(), &[3]);
        assert_eq!(cat_shape(&[&[2, 3], &[4, 3]], 0).dims(), &[6, 3]);
    }
}
