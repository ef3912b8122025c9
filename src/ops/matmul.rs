//! Matrix products with PyTorch's rules: 1-D operands, batches, broadcast batch dims.

use super::{require_float, same_device};
use crate::Tensor;
use wgrad_core::ops::matmul_shape;
use wgrad_core::Layout;

/// Views `t` (shape `[batch..., rows, cols]`, batch dims already broadcast) as a rank-3
/// `[batch, rows, cols]` layout; copies first when the batch dims do not collapse.
#[track_caller]
fn as_batched(t: &Tensor, batch: usize) -> Tensor {
    let l = t.layout();
    let r = l.rank();
    let batch_part = Layout::new(l.dims()[..r - 2].to_vec(), l.strides()[..r - 2].to_vec(), 0).collapsed();
    let batch_stride = match batch_part.rank() {
        0 => Some(0),
        1 => Some(batch_part.strides()[0]),
        _ => None,
    };
    match batch_stride {
        Some(bs) => t.with_layout(Layout::new(
            vec![batch, l.dims()[r - 2], l.dims()[r - 1]],
            vec![bs, l.strides()[r - 2], l.strides()[r - 1]],
            l.offset(),
        )),
        _ => as_batched(&t.copy(), batch),
    }
}

impl Tensor {
    /// Matrix product (torch.matmul): 2-D @ 2-D, batched `[..., m, k] @ [..., k, n]` with
    /// broadcast batch dims, and 1-D operands treated as a row / column vector.
    #[track_caller]
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        same_device("matmul", &[self, rhs]);
        require_float("matmul", self);
        assert_eq!(self.dtype(), rhs.dtype(), "matmul: dtypes differ ({} and {})", self.dtype(), rhs.dtype());
        let (batch_shape, m, k, n, out_shape) = matmul_shape(self.dims(), rhs.dims());
        let a = if self.rank() == 1 { self.unsqueeze(0) } else { self.clone() };
        let b = if rhs.rank() == 1 { rhs.unsqueeze(1) } else { rhs.clone() };
        let mut a_dims = batch_shape.dims().to_vec();
        a_dims.extend([m, k]);
        let mut b_dims = batch_shape.dims().to_vec();
        b_dims.extend([k, n]);
        let batch = batch_shape.numel();
        let a = as_batched(&a.broadcast_to(a_dims), batch);
        let b = as_batched(&b.broadcast_to(b_dims), batch);
        let out = self.backend().matmul(&a, &b).with_layout(Layout::contiguous(out_shape.clone()));
        let (x, y) = (self.clone(), rhs.clone());
        out.record("matmul", &[self, rhs], move |g| {
            // With 1-D operands restored to 2-D: ga = g @ b^T, gb = a^T @ g, each summed
            // over the batch dims its operand was broadcast along.
            let a2 = if x.rank() == 1 { x.unsqueeze(0) } else { x.clone() };
            let b2 = if y.rank() == 1 { y.unsqueeze(1) } else { y.clone() };
            let mut g_dims = batch_shape.dims().to_vec();
            g_dims.extend([m, n]);
            let g2 = g.reshape(g_dims);
            let ga = g2.matmul(&b2.transpose(-1, -2)).sum_to(a2.dims()).reshape(x.shape().clone());
            let gb = a2.transpose(-1, -2).matmul(&g2).sum_to(b2.dims()).reshape(y.shape().clone());
            vec![Some(ga), Some(gb)]
        })
    }
}
