//! torch.nn.functional.linear.

use crate::Tensor;

/// `x @ w^T + b` with `x` `[..., in]`, `w` `[out, in]` and optional `b` `[out]`.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    assert!(
        w.rank() == 2 && x.rank() >= 1 && x.dims()[x.rank() - 1] == w.dims()[1],
        "linear: input {} does not fit weight {} (expected [..., in] and [out, in])",
        x.shape(),
        w.shape()
    );
    let y = x.matmul(&w.t());
    match b {
        Some(b) => y.add(b),
        None => y,
    }
}
