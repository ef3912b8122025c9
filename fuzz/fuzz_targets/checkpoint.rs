//! Any file given as a training checkpoint loads or is an `Err` that changes nothing:
//! the model and optimizer are checked to be exactly as before after every `Err`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wgrad::nn;

fuzz_target!(|data: &[u8]| {
    let dev = wgrad::Device::cpu();
    let model = nn::Linear::new(3, 2, &dev);
    let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig::default());
    let before: Vec<Vec<f32>> = model.state_dict().iter().map(|(_, t)| t.to_vec::<f32>().unwrap()).collect();
    let path = std::env::temp_dir().join(format!("wgrad-fuzz-checkpoint-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    if nn::TrainingCheckpoint::load(&path, &model, &mut opt).is_err() {
        let after: Vec<Vec<f32>> = model.state_dict().iter().map(|(_, t)| t.to_vec::<f32>().unwrap()).collect();
        assert_eq!(before, after, "a failed load changed the model");
        assert!(opt.state_dict().is_empty(), "a failed load changed the optimizer");
    }
});
