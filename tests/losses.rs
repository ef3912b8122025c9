//! The losses PyTorch tutorials use, on both devices, against values worked out by hand
//! from PyTorch's formulas (gradients are checked by finite differences in autograd.rs).

mod common;
use wgrad::functional as F;
use wgrad::Tensor;

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() < 1e-5, "{what}: {got} vs {want}");
}

#[test]
fn nll_l1_smooth_l1_and_pos_weighted_bce_match_pytorch_formulas() {
    for dev in common::devices() {
        // nll_loss(log_softmax(x)) is cross_entropy(x).
        let x = Tensor::from_vec(vec![0.2f32, -1.0, 2.0, 0.5, 0.5, -0.3], [2, 3], &dev);
        let t = Tensor::from_vec(vec![2u32, 0], [2], &dev);
        let nll = F::nll_loss(&x.log_softmax(1), &t, F::Reduction::Mean).to_scalar().unwrap();
        let ce = F::cross_entropy(&x, &t, F::Reduction::Mean, 0.0).to_scalar().unwrap();
        close(nll, ce, "nll vs cross_entropy");
        // Class weights [1, 2, 3]: (3 l0 + 1 l1) / (3 + 1) for targets [2, 0].
        let per = F::cross_entropy(&x, &t, F::Reduction::None, 0.0).to_vec::<f32>().unwrap();
        let weight = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], &dev);
        let weighted = F::cross_entropy_weighted(&x, &t, &weight, F::Reduction::Mean).to_scalar().unwrap();
        close(weighted, (3.0 * per[0] as f64 + per[1] as f64) / 4.0, "class-weighted mean");
        let bad = F::nll_loss(&x.log_softmax(1), &Tensor::from_vec(vec![0u32, 3], [2], &dev), F::Reduction::Sum);
        let err = bad.to_scalar().expect_err("class 3 of 3");
        assert!(err.to_string().contains("nll_loss: index 3"), "{dev:?}: {err}");

        let a = Tensor::from_vec(vec![-2.0f32, -0.5, 0.25, 3.0], [4], &dev);
        let zero = Tensor::zeros([4], wgrad::DType::F32, &dev);
        close(F::l1_loss(&a, &zero, F::Reduction::Sum).to_scalar().unwrap(), 5.75, "l1");
        // beta 1: 0.5 d^2 below 1, |d| - 0.5 from 1 on: [1.5, 0.125, 0.03125, 2.5].
        close(F::smooth_l1_loss(&a, &zero, F::Reduction::Mean, 1.0).to_scalar().unwrap(), 1.0390625, "smooth_l1");
        close(F::smooth_l1_loss(&a, &zero, F::Reduction::Sum, 0.0).to_scalar().unwrap(), 5.75, "smooth_l1 beta 0");

        // pos_weight 3 on a positive: 3 log(1 + e^-0.5); a negative is the plain loss.
        let logits = Tensor::from_vec(vec![0.5f32, -1.0], [2], &dev);
        let y = Tensor::from_vec(vec![1.0f32, 0.0], [2], &dev);
        let pos = Tensor::full([2], 3.0, wgrad::DType::F32, &dev);
        let got = F::binary_cross_entropy_with_logits_pos_weight(&logits, &y, &pos, F::Reduction::None);
        let got = got.to_vec::<f32>().unwrap();
        close(got[0] as f64, 3.0 * (1.0 + (-0.5f64).exp()).ln(), "pos-weighted positive");
        let plain = F::binary_cross_entropy_with_logits(&logits, &y, F::Reduction::None).to_vec::<f32>().unwrap();
        close(got[1] as f64, plain[1] as f64, "negatives are unweighted");
    }
}
