//! The README's second example: a two-layer perceptron as a `#[derive(Module)]` struct,
//! trained with a `DataLoader` over in-memory tensors. Keep it identical to the README.

use wgrad::nn::{self, Module};
use wgrad::{functional as F, Device, Tensor};
use wgrad_data::{DataLoader, TensorDataset};

#[derive(Module)]
struct Mlp {
    hidden: nn::Linear,
    out: nn::Linear,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.out.forward(&self.hidden.forward(x).relu())
    }
}

fn main() -> wgrad::Result<()> {
    let dev = Device::best();
    let model = Mlp { hidden: nn::Linear::new(2, 16, &dev), out: nn::Linear::new(16, 2, &dev) };
    let mut opt = nn::AdamW::new(model.parameters(), nn::AdamWConfig { lr: 1e-2, ..Default::default() });
    let x = Tensor::randn([256, 2], 0, &dev);
    let y = x.select(1, 0).gt_scalar(0.0); // class 1 where x0 > 0
    let loader = DataLoader::tensors(TensorDataset::new(vec![x, y]), 32).shuffle(7);
    for epoch in 0..5 {
        for batch in loader.epoch(epoch) {
            let loss = F::cross_entropy(&model.forward(&batch[0]), &batch[1], F::Reduction::Mean, 0.0);
            opt.step(&loss.backward()?)?;
        }
    }
    println!("{}", model.hidden.weight.tensor()); // printed as PyTorch prints it
    Ok(())
}
