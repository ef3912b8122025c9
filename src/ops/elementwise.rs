//! Unary, binary, comparison, `where` and cast ops, with PyTorch broadcasting.

use super::{require_float, same_device};
use crate::backend::Map;
use crate::Tensor;
use wgrad_core::ops::{BinaryOp, CmpOp, UnaryOp};
use wgrad_core::{broadcast_shapes, DType};

macro_rules! unary_methods {
    ($($name:ident => $op:ident),* $(,)?) => {$(
        #[doc = concat!("Elementwise `", stringify!($name), "`.")]
        pub fn $name(&self) -> Tensor {
            self.unary(UnaryOp::$op)
        }
    )*};
}

macro_rules! binary_methods {
    ($($name:ident, $scalar_name:ident => $op:ident),* $(,)?) => {$(
        #[doc = concat!("Elementwise `", stringify!($name), "` with broadcasting; both tensors share a dtype.")]
        pub fn $name(&self, rhs: &Tensor) -> Tensor {
            self.binary(BinaryOp::$op, rhs)
        }
        #[doc = concat!("Elementwise `", stringify!($name), "` with a scalar (converted to this tensor's dtype).")]
        pub fn $scalar_name(&self, rhs: f64) -> Tensor {
            self.binary_scalar(BinaryOp::$op, rhs)
        }
    )*};
}

macro_rules! cmp_methods {
    ($($name:ident => $op:ident),* $(,)?) => {$(
        #[doc = concat!("Elementwise `", stringify!($name), "` comparison with broadcasting; u32 0/1 result.")]
        pub fn $name(&self, rhs: &Tensor) -> Tensor {
            self.compare(CmpOp::$op, rhs)
        }
    )*};
}

impl Tensor {
    unary_methods!(neg => Neg, abs => Abs, exp => Exp, log => Log, sqrt => Sqrt, rsqrt => Rsqrt, relu => Relu,
        sigmoid => Sigmoid, tanh => Tanh, gelu => Gelu, gelu_tanh => GeluTanh, sin => Sin, cos => Cos,
        silu => Silu, softplus => Softplus);
    binary_methods!(add, add_scalar => Add, sub, sub_scalar => Sub, mul, mul_scalar => Mul, div, div_scalar => Div,
        maximum, maximum_scalar => Max, minimum, minimum_scalar => Min);
    cmp_methods!(eq => Eq, ne => Ne, lt => Lt, le => Le, gt => Gt, ge => Ge);

    /// Applies a unary op elementwise (with scalar 0 for the ops that take one: use
    /// [`Tensor::powf`], [`Tensor::leaky_relu`], [`Tensor::elu`] for those).
    #[track_caller]
    pub fn unary(&self, op: UnaryOp) -> Tensor {
        self.unary_with_scalar(op, 0.0)
    }

    /// `self ^ exponent` elementwise with broadcasting (float tensors).
    #[track_caller]
    pub fn pow(&self, exponent: &Tensor) -> Tensor {
        self.binary(BinaryOp::Pow, exponent)
    }

    /// `x ^ exponent` elementwise (float tensors).
    #[track_caller]
    pub fn powf(&self, exponent: f64) -> Tensor {
        self.unary_with_scalar(UnaryOp::PowScalar, exponent)
    }

    /// `x` where positive, else `negative_slope * x` (torch's leaky_relu; 0.01 there).
    #[track_caller]
    pub fn leaky_relu(&self, negative_slope: f64) -> Tensor {
        self.unary_with_scalar(UnaryOp::LeakyRelu, negative_slope)
    }

    /// `x` where positive, else `alpha * (exp(x) - 1)` (torch's elu; alpha 1 there).
    #[track_caller]
    pub fn elu(&self, alpha: f64) -> Tensor {
        self.unary_with_scalar(UnaryOp::Elu, alpha)
    }

    #[track_caller]
    fn unary_with_scalar(&self, op: UnaryOp, scalar: f64) -> Tensor {
        if !op.supports_int() {
            require_float(op.name(), self);
        }
        let out = self.backend().map(Map::Unary(op, scalar), &[self], self.shape(), self.dtype());
        let x = self.clone();
        out.record(op.name(), &[self], move |g| vec![Some(x.unary_grad(op, scalar, g))])
    }

    /// `grad * op'(self)` elementwise, as one fused kernel (the backward of `op`).
    #[track_caller]
    pub(crate) fn unary_grad(&self, op: UnaryOp, scalar: f64, grad: &Tensor) -> Tensor {
        require_float(op.name(), self);
        self.backend().map(Map::UnaryGrad(op, scalar), &[self, grad], self.shape(), self.dtype())
    }

    /// Broadcasts both operands to their common shape (PyTorch rules).
    #[track_caller]
    pub fn broadcast_pair(&self, rhs: &Tensor, op: &str) -> (Tensor, Tensor) {
        let shape = broadcast_shapes(self.dims(), rhs.dims(), op);
        (self.broadcast_to(&shape), rhs.broadcast_to(&shape))
    }

    #[track_caller]
    fn check_pair(&self, rhs: &Tensor, op: &str) {
        same_device(op, &[self, rhs]);
        assert_eq!(
            self.dtype(),
            rhs.dtype(),
            "{op}: expected both tensors to have one dtype, got {} and {}",
            self.dtype(),
            rhs.dtype()
        );
    }

    /// Applies a binary op elementwise with broadcasting.
    #[track_caller]
    pub fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Tensor {
        self.check_pair(rhs, op.name());
        if op == BinaryOp::Pow {
            require_float("pow", self);
        }
        let (a, b) = self.broadcast_pair(rhs, op.name());
        let out = self.backend().map(Map::Binary(op), &[&a, &b], a.shape(), self.dtype());
        let (sa, sb) = (a.clone(), b.clone());
        out.record(op.name(), &[&a, &b], move |g| {
            let (ga, gb) = binary_grads(op, &sa, &sb, g);
            vec![Some(ga), Some(gb)]
        })
    }

    /// Applies `x op scalar` elementwise.
    #[track_caller]
    pub fn binary_scalar(&self, op: BinaryOp, scalar: f64) -> Tensor {
        if op == BinaryOp::Pow {
            return self.powf(scalar);
        }
        let out = self.backend().map(Map::BinaryScalar(op, scalar), &[self], self.shape(), self.dtype());
        let x = self.clone();
        out.record(op.name(), &[self], move |g| {
            let grad = match op {
                BinaryOp::Add | BinaryOp::Sub => g.clone(),
                BinaryOp::Mul => g.mul_scalar(scalar),
                BinaryOp::Div => g.div_scalar(scalar),
                BinaryOp::Max | BinaryOp::Min => {
                    let s = Tensor::full([], scalar, x.dtype(), x.device());
                    let (wx, _) = extremum_weights(op, &x, &s.broadcast_to(x.shape()));
                    g.mul(&wx)
                }
                BinaryOp::Pow => unreachable!("routed to powf"),
            };
            vec![Some(grad)]
        })
    }

    /// Compares elementwise with broadcasting; the result is u32 0/1.
    #[track_caller]
    pub fn compare(&self, op: CmpOp, rhs: &Tensor) -> Tensor {
        self.check_pair(rhs, op.name());
        let (a, b) = self.broadcast_pair(rhs, op.name());
        self.backend().map(Map::Compare(op), &[&a, &b], a.shape(), DType::U32)
    }

    /// `self ? on_true : on_false` elementwise (self is the condition: non-zero is
    /// true), all three broadcast together; PyTorch's `torch.where(cond, a, b)`.
    #[track_caller]
    pub fn where_cond(&self, on_true: &Tensor, on_false: &Tensor) -> Tensor {
        same_device("where", &[self, on_true, on_false]);
        on_true.check_pair(on_false, "where");
        let shape = broadcast_shapes(&broadcast_shapes(self.dims(), on_true.dims(), "where"), on_false.dims(), "where");
        let (c, a, b) = (self.broadcast_to(&shape), on_true.broadcast_to(&shape), on_false.broadcast_to(&shape));
        let out = self.backend().map(Map::Where, &[&c, &a, &b], &shape, on_true.dtype());
        let cond = c.detach();
        out.record("where", &[&a, &b], move |g| {
            let zero = g.zeros_like();
            vec![Some(cond.where_cond(g, &zero)), Some(cond.where_cond(&zero, g))]
        })
    }

    /// Converts to `dtype` (float to int truncates toward zero; i32 <-> u32 keeps the
    /// bits, wrapping). Same dtype: no copy.
    #[track_caller]
    pub fn cast(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        assert!(
            self.device().supports_f16() || dtype != DType::F16,
            "cast: {} cannot hold f16 tensors (no SHADER_F16)",
            self.device().name()
        );
        let out = self.backend().map(Map::Cast, &[self], self.shape(), dtype);
        let from = self.dtype();
        out.record("cast", &[self], move |g| vec![from.is_float().then(|| g.cast(from))])
    }
}

/// For maximum/minimum: how much of the gradient goes to each side (ties split evenly,
/// as PyTorch does).
#[track_caller]
fn extremum_weights(op: BinaryOp, a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
    let wins = if op == BinaryOp::Max { a.gt(b) } else { a.lt(b) };
    let wa = wins.cast(a.dtype()) + a.eq(b).cast(a.dtype()).mul_scalar(0.5);
    let wb = wa.neg().add_scalar(1.0);
    (wa, wb)
}

/// Gradients of `a op b` (same shape) given the output gradient `g`.
#[track_caller]
fn binary_grads(op: BinaryOp, a: &Tensor, b: &Tensor, g: &Tensor) -> (Tensor, Tensor) {
    match op {
        BinaryOp::Add => (g.clone(), g.clone()),
        BinaryOp::Sub => (g.clone(), g.neg()),
        BinaryOp::Mul => (g.mul(b), g.mul(a)),
        BinaryOp::Div => {
            let ga = g.div(b);
            (ga.clone(), ga.mul(a).div(b).neg())
        }
        BinaryOp::Max | BinaryOp::Min => {
            let (wa, wb) = extremum_weights(op, a, b);
            (g.mul(&wa), g.mul(&wb))
        }
        BinaryOp::Pow => {
            let out = a.pow(b);
            let ga = g.mul(b).mul(&a.pow(&b.sub_scalar(1.0)));
            (ga, g.mul(&out).mul(&a.log()))
        }
    }
}
