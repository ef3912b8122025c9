//! `#[derive(Module)]`: fields become submodules, parameters and buffers under their
//! names (PyTorch's state-dict names), train/eval reaches every child, save/load round
//! trips, and `model.to(&device)` moves everything, names kept, on both devices.

mod common;
use wgrad::nn::{self, Buffer, Module, Parameter};
use wgrad::{DType, Device, Tensor};

#[derive(Module)]
struct Block {
    linear: nn::Linear,
    dropout: nn::Dropout,
}

impl Block {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.dropout.forward(&self.linear.forward(x)).relu()
    }
}

#[derive(Module)]
struct Net {
    scale: Parameter,
    shift: Option<Parameter>,
    steps: Buffer,
    blocks: Vec<Block>,
    head: Option<nn::Linear>,
    missing: Option<nn::Linear>,
    #[module(skip)]
    width: usize,
}

impl Net {
    fn new(dev: &Device) -> Net {
        Net {
            scale: Parameter::new(Tensor::ones([4], DType::F32, dev)),
            shift: Some(Parameter::new(Tensor::zeros([4], DType::F32, dev))),
            steps: Buffer::new(Tensor::zeros([], DType::I32, dev)),
            blocks: (0..2)
                .map(|_| Block { linear: nn::Linear::new(4, 4, dev), dropout: nn::Dropout::new(0.5) })
                .collect(),
            head: Some(nn::Linear::new(4, 2, dev)),
            missing: None,
            width: 4,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        assert_eq!(x.dims()[1], self.width);
        let mut h = x.mul(&self.scale.tensor()).add(&self.shift.as_ref().unwrap().tensor());
        for block in &self.blocks {
            h = block.forward(&h);
        }
        self.head.as_ref().map_or(h.clone(), |head| head.forward(&h))
    }
}

/// A model whose forward takes two inputs.
#[derive(Module)]
#[module(no_forward)]
struct Pair {
    left: nn::Linear,
}

#[test]
fn fields_are_registered_under_their_names() {
    wgrad::manual_seed(3);
    let net = Net::new(&Device::cpu());
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    let want = [
        "scale",
        "shift",
        "blocks.0.linear.weight",
        "blocks.0.linear.bias",
        "blocks.1.linear.weight",
        "blocks.1.linear.bias",
        "head.weight",
        "head.bias",
    ];
    assert_eq!(names, want);
    let buffers: Vec<String> = net.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["steps"]);
    assert_eq!(net.state_dict().len(), want.len() + 1);
    assert_eq!(net.parameters().len(), want.len());
}

#[test]
fn train_and_eval_reach_every_child_and_save_load_round_trips() {
    wgrad::manual_seed(4);
    let dev = Device::cpu();
    let net = Net::new(&dev);
    let x = Tensor::randn([8, 4], 1, &dev);
    net.eval();
    let a = Module::forward(&net, &x).to_vec::<f32>().unwrap();
    assert_eq!(a, Module::forward(&net, &x).to_vec::<f32>().unwrap(), "eval: dropout is off, outputs repeat");
    net.train();
    let b = Module::forward(&net, &x).to_vec::<f32>().unwrap();
    assert_ne!(a, b, "train: dropout is on in every block");

    let dir = tempdir();
    let path = dir.join("net.safetensors");
    net.save(&path).unwrap();
    wgrad::manual_seed(5);
    let other = Net::new(&dev);
    other.load(&path).unwrap();
    other.eval();
    net.eval();
    assert_eq!(Module::forward(&other, &x).to_vec::<f32>().unwrap(), a);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn to_device_moves_every_parameter_and_buffer_and_keeps_the_names() {
    let cpu = Device::cpu();
    let Some(gpu) = common::gpu() else { return };
    wgrad::manual_seed(6);
    let net = Net::new(&cpu);
    net.eval();
    let x = Tensor::randn([3, 4], 2, &cpu);
    let on_cpu = Module::forward(&net, &x).to_vec::<f32>().unwrap();
    net.to(&gpu).unwrap();
    for (name, t) in net.state_dict() {
        assert_eq!(t.device(), &gpu, "{name} moved");
    }
    let on_gpu = Module::forward(&net, &x.to_device(&gpu));
    assert_eq!(on_gpu.device(), &gpu);
    let on_gpu = on_gpu.to_vec::<f32>().unwrap();
    for (c, g) in on_cpu.iter().zip(&on_gpu) {
        assert!((c - g).abs() < 1e-5, "{c} vs {g}");
    }
    // Still trainable there: gradients reach every parameter.
    let loss = Module::forward(&net, &x.to_device(&gpu)).sum_all();
    let grads = loss.backward().unwrap();
    for (name, p) in net.named_parameters() {
        assert!(grads.get(&p.tensor()).is_some(), "{name} has a gradient on the GPU");
    }
    net.to(&cpu).unwrap();
    assert!(net.state_dict().iter().all(|(_, t)| t.device() == &cpu));
}

#[test]
fn a_model_without_a_one_tensor_forward_says_so() {
    let pair = Pair { left: nn::Linear::new(2, 2, &Device::cpu()) };
    assert_eq!(pair.parameters().len(), 2);
    let x = Tensor::zeros([1, 2], DType::F32, &Device::cpu());
    let panic =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Module::forward(&pair, &x))).expect_err("no forward");
    let msg = panic.downcast_ref::<&str>().copied().or(panic.downcast_ref::<String>().map(String::as_str)).unwrap();
    assert!(msg.contains("Pair takes other inputs"), "{msg}");
}

fn tempdir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wgrad-derive-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
