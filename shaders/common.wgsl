// In every module (shaders::compose puts it after the launcher's prelude, which declares
// struct Params with uniform_params!): the parameter block's binding and math helpers
// that several families use.

// The launch's parameter block (KernelLaunch::params), binding 0 of every kernel.
@group(0) @binding(0) var<uniform> params: Params;

// NaN by its bits: WGSL lets compilers assume there are no NaNs, and some (lavapipe) fold
// `x != x` to false.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// tanh without the inf/inf of large |x| on some drivers.
fn tanh_safe(x: f32) -> f32 {
    return tanh(clamp(x, -15.0, 15.0));
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}
