//! Embedding lookups (torch.nn.functional.embedding).

use crate::Tensor;

/// Rows of `weight` [V, D] picked by `ids` (u32/i32, any shape): output is
/// `ids.shape + [D]`. An id >= V is an `Err` naming the value at the next readback.
/// The row `padding_idx` receives no gradient. Repeated ids accumulate gradients,
/// deterministically.
#[track_caller]
pub fn embedding(ids: &Tensor, weight: &Tensor, padding_idx: Option<usize>) -> Tensor {
    assert_eq!(weight.rank(), 2, "embedding: weight must be [num_embeddings, dim], got {}", weight.shape());
    let (rows, dim) = (weight.dims()[0], weight.dims()[1]);
    if let Some(p) = padding_idx {
        assert!(p < rows, "embedding: padding_idx {p} out of range for {rows} rows");
    }
    let flat = ids.reshape([ids.numel()]).detach();
    let mut shape = ids.dims().to_vec();
    shape.push(dim);
    let out = weight.detach().index_select_as(0, &flat, "embedding").reshape(shape);
    out.record("embedding", &[weight], move |g| {
        let g = g.reshape([flat.numel(), dim]);
        let mut grad = g.index_add_rows(&flat, rows);
        if let Some(p) = padding_idx {
            let mut keep = vec![1.0f32; rows];
            keep[p] = 0.0;
            grad = grad.mul(&Tensor::from_vec(keep, [rows, 1], g.device()).cast(g.dtype()));
        }
        vec![Some(grad)]
    })
}
