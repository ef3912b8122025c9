// An invocation per output element (after reduce.wgsl): for many short runs (softmax and
// layer-norm backward rows, attention rows), where a workgroup per output spends its time
// in barriers (on lavapipe ~60 us per workgroup). Invocation w folds, in order, the
// chunk p = w / outer of output o = w % outer's run (neighbouring invocations read
// neighbouring outputs: coalesced for column sums), and writes its partial at
// o * splits + p; the host reduces the partials in a second launch when splits > 1. The
// host keeps chunks short (lavapipe ends invocations that loop 65535 times).

fn run(w: u32) {
    if (w >= params.outer * params.splits) {
        return;
    }
    let o = w % params.outer;
    let p = w / params.outer;
    let start = p * params.chunk;
    let end = min(start + params.chunk, params.inner);
    let base = params.offset + span_offset(o, 0u, params.outer_rank);
    var acc = Pair(IDENTITY_V, NONE);
    for (var r = start; r < end; r++) {
        let v = V(x[base + span_offset(r, params.outer_rank, params.rank)]);
        acc = combine(acc, Pair(v, r));
    }
    out[o * params.splits + p] = finish(acc);
}
