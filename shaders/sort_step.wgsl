// Argsort, one compare-exchange step (k, j) of a bitonic sorting network over every row
// of the padded [rows, P] (key, index) pairs that sort_init.wgsl made; the launcher runs
// k = 2, 4, ..., P and for each j = k / 2, ..., 1. Element e pairs with l = e ^ j (the
// invocation with l > e does the exchange) and the pair is put in ascending order where
// e & k == 0, descending elsewhere. Pairs compare by key, then by index: all pairs are
// distinct, so the sorted order is that of a stable sort (wgrad_cpu::sort::argsort_rows).
// The prelude supplies struct Params (declared once in kernels/sort.rs, uniform_params!).

const WG: u32 = 256u;

@group(0) @binding(1) var<storage, read_write> keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> idx: array<u32>;

fn run(t: u32) {
    if (t >= params.rows * params.p) {
        return;
    }
    let e = t % params.p;
    let l = e ^ params.j;
    if (l <= e) {
        return;
    }
    let a = t;
    let b = t - e + l;
    let greater = keys[a] > keys[b] || (keys[a] == keys[b] && idx[a] > idx[b]);
    if (greater == ((e & params.k) == 0u)) {
        let key = keys[a];
        keys[a] = keys[b];
        keys[b] = key;
        let i = idx[a];
        idx[a] = idx[b];
        idx[b] = i;
    }
}
