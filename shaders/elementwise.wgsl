// Elementwise kernels: every map of up to three strided inputs into one (possibly
// strided) output: unary and binary ops, comparisons, where, casts, fills, and the
// strided copies behind contiguous() and cat().
//
// The launcher's prelude supplies:
//   alias O (output type); alias A/B/C (input types, as many as inputs); alias S (scalar)
//   @binding(1) out: array<O>, @binding(2..) in0/in1/in2: array<A/B/C>
//   fn compute(i: u32) -> O   // loads in_k[operand_offset(k + 1, i)] and applies the op
//
// Indexing: thread i handles element base + i of the output in row-major order. Its
// offset in operand k (0 = output, 1.. = inputs) is offsets[k] + i when that operand is
// contiguous, else sum_d coord_d(i) * strides[k][d] with coord_d from the shared shape
// (dims are collapsed on the host, so rank is usually 1 or 2). Broadcast dims have
// stride 0. Shape and strides hold 8 dims, packed 4 per vec4. Offsets are relative to
// each operand's bound window (tensors larger than one binding are split into launches,
// and a contiguous operand's offset already includes base).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/elementwise.rs
// (uniform_params!) and prepended when the module is composed.

fn operand_offset(k: u32, i: u32) -> u32 {
    if (params.contiguous[k] != 0u) {
        return params.offsets[k] + i;
    }
    var rem = params.base + i;
    var off = params.offsets[k];
    for (var d = params.rank; d > 0u; d--) {
        let dd = d - 1u;
        let size = params.shape[dd / 4u][dd % 4u];
        off += (rem % size) * params.strides[k][dd / 4u][dd % 4u];
        rem /= size;
    }
    return off;
}

// 32 random bits for counter i of stream seed: lowbias32 (Wellons) twice. The same
// function as wgrad_cpu::random::random_bits, so dropout masks drawn here equal the CPU's.
fn lowbias32(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn random_bits(seed: u32, i: u32) -> u32 {
    return lowbias32(lowbias32(i ^ seed) + seed);
}

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26).
fn erf_approx(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
    return select(-y, y, x >= 0.0);
}

// x^y with PyTorch's results for negative bases and integral exponents, and x^0 = 1.
fn pow_real(x: f32, y: f32) -> f32 {
    if (y == 0.0) {
        return 1.0;
    }
    if (x < 0.0 && y == round(y)) {
        let r = pow(-x, y);
        return select(r, -r, abs(y % 2.0) == 1.0);
    }
    if (x == 0.0) {
        // +inf from a `let`: a constant expression may not overflow f32 (browsers reject it).
        let inf_bits = 0x7f800000u;
        return select(0.0, bitcast<f32>(inf_bits), y < 0.0);
    }
    return pow(x, y);
}

// d/dx of the tanh form of GELU.
fn gelu_tanh_grad(x: f32) -> f32 {
    let c = 0.7978845608028654;
    let t = tanh_safe(c * (x + 0.044715 * x * x * x));
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x);
}

fn max_nan(a: f32, b: f32) -> f32 {
    return select(max(a, b), a + b, is_nan(a) || is_nan(b));
}

fn min_nan(a: f32, b: f32) -> f32 {
    return select(min(a, b), a + b, is_nan(a) || is_nan(b));
}

fn run(i: u32) {
    if (i >= params.numel) {
        return;
    }
    out[operand_offset(0u, i)] = compute(i);
}
