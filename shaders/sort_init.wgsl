// Argsort, first launch (launcher: kernels/sort.rs): the padded (key, index) pairs that
// sort_step.wgsl's bitonic network sorts. One invocation per element e of row r of the
// padded [rows, P] arrays (P: n rounded up to a power of two):
//   keys[r * P + e] = sortable(x[offset + r * n + e]) (inverted for a descending sort), idx = e;
//   past n both are 0xffffffff, which no real pair reaches (its index is below n), so
//   padding sorts last.
// The prelude supplies: struct Params (declared once in kernels/sort.rs, uniform_params!);
// alias T; const DESCENDING: bool; fn sortable(v: T) -> u32 (the order of
// wgrad_cpu::sort); bindings x (1, T), keys (2, u32), idx (3, u32).

const WG: u32 = 256u;

fn run(t: u32) {
    if (t >= params.rows * params.p) {
        return;
    }
    let r = t / params.p;
    let e = t % params.p;
    if (e < params.n) {
        let key = sortable(x[params.offset + r * params.n + e]);
        keys[t] = select(key, ~key, DESCENDING);
        idx[t] = e;
    } else {
        keys[t] = 0xffffffffu;
        idx[t] = 0xffffffffu;
    }
}
