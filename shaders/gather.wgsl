// Gather: out[p] = x[p with coordinate `dim` replaced by ids[p]] (torch.gather), for
// every position p of the ids view. index_select and embedding lookups are the same
// kernel with the ids spread over the other dims by stride-0 views.
//
// Ids are validated: an id >= size writes 0 and reports (code, id, size) to the device
// error buffer with atomicMax, which the host turns into an Err at the next readback.
// A negative i32 id (>= size as u32) is reported by its magnitude in word 3 instead, so
// that the error names it with its sign.
//
// The prelude supplies: alias T (element), I (id type); bindings out (1), x (2), ids (3).

override WG: u32 = 256;
const INDEX_OUT_OF_RANGE: u32 = 1u;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/gather.rs
// (uniform_params!) and prepended when the module is composed.

@group(0) @binding(15) var<storage, read_write> errors: array<atomic<u32>, 4>;

fn run(i: u32) {
    if (i >= params.numel) {
        return;
    }
    var rem = i;
    var x_off = params.x_offset;
    var id_off = params.id_offset;
    for (var d = params.rank; d > 0u; d--) {
        let dd = d - 1u;
        let size = params.shape[dd / 4u][dd % 4u];
        let c = rem % size;
        rem /= size;
        id_off += c * params.id_strides[dd / 4u][dd % 4u];
        if (dd != params.dim) {
            x_off += c * params.x_strides[dd / 4u][dd % 4u];
        }
    }
    let raw = ids[id_off];
    let id = u32(raw);
    if (id >= params.size) {
        atomicMax(&errors[0], INDEX_OUT_OF_RANGE);
        if (raw < I(0)) {
            atomicMax(&errors[3], 0u - id);
        } else {
            atomicMax(&errors[1], id);
        }
        atomicMax(&errors[2], params.size);
        out[i] = T(0);
        return;
    }
    let dd = params.dim;
    out[i] = x[x_off + id * params.x_strides[dd / 4u][dd % 4u]];
}
