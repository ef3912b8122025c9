// Running sums along each row of a contiguous [rows, n] input (from element offset of x) (launcher: kernels/scan.rs;
// CPU reference: wgrad_cpu::sort::cumsum_rows), a workgroup per row. Thread t owns the
// elements [t * chunk, (t + 1) * chunk) of the row (chunk = ceil(n / WG)): it sums them,
// thread 0 turns the WG sums into exclusive prefixes in order, then each thread walks its
// chunk again, writing its prefix plus the running sum. With REVERSE the row is read from
// its end (position e is element n - 1 - e), which gives the backward of cumsum.
// The prelude supplies: alias T; const REVERSE: bool; bindings out (1, T), x (2, T).

const WG: u32 = 256u;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/scan.rs
// (uniform_params!) and prepended when the module is composed.

var<workgroup> prefix: array<T, WG>;

// Index of position e of row r.
fn at(r: u32, e: u32) -> u32 {
    return r * params.n + select(e, params.n - 1u - e, REVERSE);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let r = wid.x + wid.y * groups.x;
    if (r >= params.rows) {
        return;
    }
    let chunk = (params.n + WG - 1u) / WG;
    let start = min(lid * chunk, params.n);
    let end = min(start + chunk, params.n);
    var sum = T(0);
    for (var e = start; e < end; e++) {
        sum += x[params.offset + at(r, e)];
    }
    prefix[lid] = sum;
    workgroupBarrier();
    if (lid == 0u) {
        var run = T(0);
        for (var t = 0u; t < WG; t++) {
            let s = prefix[t];
            prefix[t] = run;
            run += s;
        }
    }
    workgroupBarrier();
    var run = prefix[lid];
    for (var e = start; e < end; e++) {
        run += x[params.offset + at(r, e)];
        out[at(r, e)] = run;
    }
}
