//! Launcher for shaders/elementwise.wgsl (CPU reference: wgrad_cpu::elementwise).
//!
//! An op is a WGSL expression over the loaded inputs `a`, `b`, `c` and the scalar `s`.
//! Float inputs load as f32 and the result converts to the output type, so one
//! expression serves f32 and f16; integers compute in their own type.

use super::{pack8, to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::ops::{BinaryOp, CmpOp, UnaryOp};
use wgrad_core::{DType, Layout};

const WG: u32 = 256;
const NAMES: [&str; 3] = ["a", "b", "c"];
const ALIASES: [&str; 3] = ["A", "B", "C"];

uniform_params! {
    /// A launch over `numel` elements from `base` (launches over huge tensors are split) of
    /// the collapsed `shape` (`rank` dims); per operand k (0 = output, 1.. = inputs) its
    /// `strides[k]`, its `offsets[k]` in its bound window, and whether it is `contiguous`.
    struct Params {
        // scalar: the op's scalar, as bits of S.
        numel: u32, rank: u32, scalar: u32, base: u32,
        shape: [u32; 8],
        strides: [[u32; 8]; 4],
        offsets: [u32; 4],
        contiguous: [u32; 4],
    }
}

/// The type an op computes in: f32 for floats, the type itself for integers.
fn compute_type(dtype: DType) -> &'static str {
    if dtype.is_float() {
        "f32"
    } else {
        wgsl_type(dtype)
    }
}

/// The scalar `s` as the bits the shader reinterprets (see `scalar_decl`).
pub fn scalar_bits(value: f64, dtype: DType) -> u32 {
    match dtype {
        DType::F32 | DType::F16 => (value as f32).to_bits(),
        DType::U32 => value as u32,
        DType::I32 => (value as i32) as u32,
    }
}

fn scalar_decl(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 | DType::F16 => "bitcast<f32>(params.scalar)",
        DType::U32 => "params.scalar",
        DType::I32 => "bitcast<i32>(params.scalar)",
    }
}

/// WGSL literal zero of a dtype's compute type.
fn zero(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 | DType::F16 => "0.0",
        DType::U32 => "0u",
        DType::I32 => "0i",
    }
}

/// The expression of a unary op on input `a` of `dtype`.
pub fn unary_expr(op: UnaryOp, dtype: DType) -> String {
    if !dtype.is_float() {
        return match op {
            UnaryOp::Neg if dtype == DType::U32 => "0u - a".into(),
            UnaryOp::Neg => "-a".into(),
            UnaryOp::Abs => "abs(a)".into(),
            UnaryOp::Relu => format!("max(a, {})", zero(dtype)),
            _ => panic!("{}: not implemented for integer tensors", op.name()),
        };
    }
    match op {
        UnaryOp::Neg => "-a",
        UnaryOp::Abs => "abs(a)",
        UnaryOp::Exp => "exp(a)",
        UnaryOp::Log => "log(a)",
        UnaryOp::Sqrt => "sqrt(a)",
        UnaryOp::Rsqrt => "1.0 / sqrt(a)",
        UnaryOp::Relu => "select(a, 0.0, a <= 0.0 && !is_nan(a))",
        UnaryOp::Sigmoid => "1.0 / (1.0 + exp(-a))",
        UnaryOp::Tanh => "tanh_safe(a)",
        UnaryOp::Gelu => "0.5 * a * (1.0 + erf_approx(a * 0.7071067811865476))",
        UnaryOp::GeluTanh => "0.5 * a * (1.0 + tanh_safe(0.7978845608028654 * (a + 0.044715 * a * a * a)))",
        UnaryOp::PowScalar => "pow_real(a, s)",
        UnaryOp::Sin => "sin(a)",
        UnaryOp::Cos => "cos(a)",
        UnaryOp::Silu => "a / (1.0 + exp(-a))",
        UnaryOp::Softplus => "select(log(1.0 + exp(a)), a, a > 20.0)",
        UnaryOp::LeakyRelu => "select(s * a, a, a > 0.0)",
        UnaryOp::Elu => "select(s * (exp(a) - 1.0), a, a > 0.0)",
    }
    .into()
}

/// The expression of `grad * op'(x)` with `a` = x and `b` = grad (float dtypes).
pub fn unary_grad_expr(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "-b",
        UnaryOp::Abs => "b * sign(a)",
        UnaryOp::Exp => "b * exp(a)",
        UnaryOp::Log => "b / a",
        UnaryOp::Sqrt => "b * 0.5 / sqrt(a)",
        UnaryOp::Rsqrt => "b * -0.5 / (a * sqrt(a))",
        UnaryOp::Relu => "select(0.0, b, a > 0.0)",
        UnaryOp::Sigmoid => "b * (1.0 / (1.0 + exp(-a))) * (1.0 - 1.0 / (1.0 + exp(-a)))",
        UnaryOp::Tanh => "b * (1.0 - tanh_safe(a) * tanh_safe(a))",
        UnaryOp::Gelu => {
            "b * (0.5 * (1.0 + erf_approx(a * 0.7071067811865476)) + a * exp(-0.5 * a * a) * 0.3989422804014327)"
        }
        UnaryOp::GeluTanh => "b * gelu_tanh_grad(a)",
        UnaryOp::PowScalar => "select(b * s * pow_real(a, s - 1.0), 0.0, s == 0.0)",
        UnaryOp::Sin => "b * cos(a)",
        UnaryOp::Cos => "-b * sin(a)",
        UnaryOp::Silu => "b * (1.0 / (1.0 + exp(-a))) * (1.0 + a * (1.0 - 1.0 / (1.0 + exp(-a))))",
        UnaryOp::Softplus => "select(b / (1.0 + exp(-a)), b, a > 20.0)",
        UnaryOp::LeakyRelu => "select(b * s, b, a > 0.0)",
        UnaryOp::Elu => "select(b * s * exp(a), b, a > 0.0)",
    }
}

/// The expression of a binary op on inputs `a`, `b` of `dtype` (or `a` and the scalar
/// `s` when `rhs` is "s").
pub fn binary_expr(op: BinaryOp, dtype: DType, rhs: &str) -> String {
    let float = dtype.is_float();
    match op {
        BinaryOp::Add => format!("a + {rhs}"),
        BinaryOp::Sub => format!("a - {rhs}"),
        BinaryOp::Mul => format!("a * {rhs}"),
        BinaryOp::Div if float => format!("a / {rhs}"),
        BinaryOp::Div => format!("a / select({rhs}, 1{t}, {rhs} == 0{t})", t = &zero(dtype)[1..]),
        BinaryOp::Max if float => format!("max_nan(a, {rhs})"),
        BinaryOp::Min if float => format!("min_nan(a, {rhs})"),
        BinaryOp::Max => format!("max(a, {rhs})"),
        BinaryOp::Min => format!("min(a, {rhs})"),
        BinaryOp::Pow if float => format!("pow_real(a, {rhs})"),
        BinaryOp::Pow => panic!("pow: not implemented for integer tensors"),
    }
}

/// The expression of a comparison of inputs of `dtype` (u32 0/1 result). For floats,
/// NaN is tested by its bits: WGSL lets compilers assume there are no NaNs, and some
/// (lavapipe) then fold `NaN != NaN` to false. NaN is unequal to everything.
pub fn cmp_expr(op: CmpOp, dtype: DType) -> String {
    let (sym, float) = (op.symbol(), dtype.is_float());
    match op {
        _ if !float => format!("select(0u, 1u, a {sym} b)"),
        CmpOp::Ne => "select(0u, 1u, a != b || is_nan(a) || is_nan(b))".into(),
        _ => format!("select(0u, 1u, a {sym} b && !is_nan(a) && !is_nan(b))"),
    }
}

/// `where(cond=a, b, c)`: any non-zero condition is true, NaN included.
pub fn where_expr(cond: DType) -> String {
    if cond.is_float() {
        "select(c, b, a != 0.0 || is_nan(a))".into()
    } else {
        format!("select(c, b, a != {})", zero(cond))
    }
}

/// One elementwise launch: `out[i] = expr(inputs at i)`.
pub struct Map<'a> {
    /// WGSL expression over `a`, `b`, `c`, `s`, `i` (see module docs).
    pub expr: &'a str,
    /// Up to three inputs, all with the output's shape.
    pub inputs: &'a [Operand<'a>],
    /// Dtype of `s`; its bits are `scalar`.
    pub scalar_dtype: DType,
    pub scalar: u32,
}

/// The WGSL module of a map with input dtypes `inputs`, for launching and validation.
pub fn source_for(expr: &str, inputs: &[DType], out_dtype: DType, scalar_dtype: DType) -> String {
    let mut p = Params::WGSL.to_string();
    p += &format!("alias O = {};\nalias S = {};\n", wgsl_type(out_dtype), compute_type(scalar_dtype));
    p += "@group(0) @binding(1) var<storage, read_write> out: array<O>;\n";
    for (k, &d) in inputs.iter().enumerate() {
        p += &format!("alias {} = {};\n", ALIASES[k], wgsl_type(d));
        p += &format!("@group(0) @binding({}) var<storage, read> in{k}: array<{}>;\n", k + 2, ALIASES[k]);
    }
    p += &format!("fn compute(i: u32) -> O {{\n    let s = S({});\n", scalar_decl(scalar_dtype));
    for (k, &d) in inputs.iter().enumerate() {
        p += &format!("    let {} = {}(in{k}[operand_offset({}u, i)]);\n", NAMES[k], compute_type(d), k + 1);
    }
    p += &format!("    return O({});\n}}\n", expr);
    let mut dtypes = inputs.to_vec();
    dtypes.extend([out_dtype, scalar_dtype]);
    shaders::compose(&dtypes, &p, shaders::ELEMENTWISE)
}

/// Runs `m` writing into `out` viewed through `out_layout` (any strides: cat writes
/// into a narrowed view). Every input layout must have `out_layout`'s shape. Buffers
/// larger than one binding are handled by splitting the launch into ranges of elements,
/// each binding only the window it touches (contiguous operands); a non-contiguous
/// operand must fit one binding, else the device records a `TooLarge` error.
pub fn map_into(gpu: &GpuDevice, m: &Map, out: &PooledBuffer, out_layout: &Layout, out_dtype: DType) {
    let numel = out_layout.numel();
    if numel == 0 {
        return;
    }
    let mut all: Vec<&Layout> = vec![out_layout];
    all.extend(m.inputs.iter().map(|x| x.layout));
    let collapsed = Layout::collapse_together(&all);
    let mut buffers = vec![out];
    buffers.extend(m.inputs.iter().map(|x| x.buffer));
    let mut sizes = vec![out_dtype.size_in_bytes()];
    sizes.extend(m.inputs.iter().map(|x| x.dtype.size_in_bytes()));
    let mut params = Params {
        numel: 0,
        rank: collapsed[0].rank() as u32,
        scalar: m.scalar,
        base: 0,
        shape: pack8(collapsed[0].dims(), "elementwise"),
        strides: [[0; 8]; 4],
        offsets: [0; 4],
        contiguous: [0; 4],
    };
    for (k, l) in collapsed.iter().enumerate() {
        params.strides[k] = pack8(l.strides(), "elementwise");
        params.contiguous[k] = l.is_contiguous() as u32;
    }
    let limit = gpu.max_binding_bytes();
    let fits = buffers.iter().all(|b| b.capacity() <= limit);
    let chunk = if fits { numel } else { (limit / 8) as usize };
    let key = KernelKey::elementwise(m.expr, m.inputs.iter().map(|x| x.dtype), out_dtype, m.scalar_dtype);
    for start in (0..numel).step_by(chunk) {
        let len = chunk.min(numel - start);
        let mut windows = Vec::with_capacity(buffers.len());
        for (k, l) in collapsed.iter().enumerate() {
            let contiguous = params.contiguous[k] != 0;
            let (first, end) = if contiguous {
                (l.offset() + start, l.offset() + start + len)
            } else {
                (l.offset(), l.storage_extent())
            };
            let w = match gpu.window(buffers[k], sizes[k], first, end) {
                Ok(w) => w,
                Err(e) => return gpu.record_error(e),
            };
            let offset = if contiguous { first } else { l.offset() };
            params.offsets[k] = to_u32(offset - w.first_elem, "elementwise");
            windows.push(w);
        }
        params.numel = to_u32(len, "elementwise");
        params.base = to_u32(start, "elementwise");
        gpu.launch_windowed(
            KernelLaunch::new(key.clone(), &params, &buffers, shaders::linear_workgroups(len, WG)),
            &windows,
        );
    }
}

/// Runs `m` into a new contiguous buffer of `shape`.
pub fn map(gpu: &GpuDevice, m: &Map, shape: &[usize], out_dtype: DType) -> PooledBuffer {
    let layout = Layout::contiguous(shape.to_vec());
    let out = gpu.output_buffer((layout.numel() * out_dtype.size_in_bytes()) as u64);
    map_into(gpu, m, &out, &layout, out_dtype);
    out
}
