//! Safetensors files: module save/load round trips, load errors that list every bad
//! name, malformed files as errors naming the file, atomic writes.

mod common;
use common::{assert_close, devices, values};
use std::collections::HashMap;
use std::path::Path;
use wgrad::io::{load_safetensors, save_safetensors};
use wgrad::nn;
use wgrad::{DType, Device, Tensor};

/// A fresh directory for one test, removed when it is dropped (a failing test included).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("wgrad-ckpt-{name}-")).tempdir().unwrap()
}

/// A safetensors file from a JSON header and raw data (the header is padded to 8 bytes).
fn st_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

fn model(dev: &Device) -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Linear::new(3, 4, dev))
        .add(nn::BatchNorm1d::new(4, dev))
        .add(nn::ReLU)
        .add(nn::Linear::new(4, 2, dev))
}

fn load_err(path: &Path) -> String {
    match load_safetensors(path, &Device::cpu()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn module_save_load_round_trip_on_every_device() {
    let dir = temp_dir("roundtrip");
    for dev in devices() {
        let path = dir.path().join("model.safetensors");
        let a = model(&dev);
        let x = Tensor::randn([5, 3], 1, &dev);
        let _ = a.forward(&x); // a training step of BatchNorm moves its running statistics
        a.eval();
        a.save(&path).unwrap();
        let b = model(&dev);
        b.eval();
        b.load(&path).unwrap();
        assert_close(
            &b.forward(&x).to_device(&Device::cpu()),
            &a.forward(&x).to_device(&Device::cpu()),
            0.0,
            0.0,
            "same outputs",
        );
        for ((na, ta), (nb, tb)) in a.state_dict().iter().zip(b.state_dict()) {
            assert_eq!(na, &nb);
            assert_eq!(tb.device(), &dev, "{nb} loaded onto the parameter's device");
            assert_close(&tb.to_device(&Device::cpu()), &ta.to_device(&Device::cpu()), 0.0, 0.0, na);
        }
        assert!(b.parameters().iter().all(|p| p.tensor().is_tracked()), "loaded parameters are trainable");
        // The file itself: names, dtypes (num_batches_tracked is an integer), format.
        let file = load_safetensors(&path, &Device::cpu()).unwrap();
        let mut names: Vec<&String> = file.keys().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "0.bias",
                "0.weight",
                "1.bias",
                "1.num_batches_tracked",
                "1.running_mean",
                "1.running_var",
                "1.weight",
                "3.bias",
                "3.weight"
            ]
        );
        assert_eq!(file["1.num_batches_tracked"].dtype(), DType::I32);
        assert_eq!(values(&file["1.num_batches_tracked"]), [1.0]);
        assert!(!std::fs::read_dir(&dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp-")));
    }
}

#[test]
fn tensors_of_every_dtype_round_trip_from_slices_and_maps() {
    let dir = temp_dir("dtypes");
    for dev in devices() {
        let mut tensors = vec![
            ("f32".to_string(), Tensor::randn([2, 3], 2, &dev)),
            ("u32".to_string(), Tensor::from_vec(vec![1u32, u32::MAX], [2], &dev)),
            ("i32".to_string(), Tensor::from_vec(vec![-5i32, 7, i32::MIN], [3], &dev)),
            ("scalar".to_string(), Tensor::full([], 2.5, DType::F32, &dev)),
            ("view".to_string(), Tensor::randn([3, 2], 3, &dev).t()),
        ];
        if dev.supports_f16() {
            tensors.push(("f16".into(), Tensor::randn([4], 4, &dev).cast(DType::F16)));
        }
        let path = dir.path().join("t.safetensors");
        save_safetensors(&path, &tensors).unwrap();
        let back = load_safetensors(&path, &dev).unwrap();
        assert_eq!(back.len(), tensors.len());
        for (name, t) in &tensors {
            assert_eq!(back[name].device(), &dev);
            assert_close(&back[name].to_device(&Device::cpu()), &t.to_device(&Device::cpu()), 0.0, 0.0, name);
        }
        let map: HashMap<String, Tensor> = back;
        save_safetensors(&path, &map).unwrap();
        save_safetensors(&path, &[("a", Tensor::ones([1], DType::F32, &dev))]).unwrap();
        assert_eq!(load_safetensors(&path, &dev).unwrap().len(), 1);
        let dup = [("a", Tensor::ones([1], DType::F32, &dev)), ("a", Tensor::ones([1], DType::F32, &dev))];
        assert!(save_safetensors(&path, &dup).unwrap_err().to_string().contains("twice"));
    }
}

#[test]
fn load_lists_every_missing_unexpected_and_misshapen_name_and_loads_nothing() {
    let dir = temp_dir("mismatch");
    let cpu = Device::cpu();
    let path = dir.path().join("bad.safetensors");
    let mut state: HashMap<String, Tensor> = model(&cpu).state_dict().into_iter().collect();
    state.remove("3.bias");
    state.remove("1.running_var");
    state.insert("4.weight".into(), Tensor::ones([2], DType::F32, &cpu));
    state.insert("0.weight".into(), Tensor::ones([3, 4], DType::F32, &cpu));
    state.insert("1.weight".into(), Tensor::ones([4], DType::I32, &cpu));
    save_safetensors(&path, &state).unwrap();
    let m = model(&cpu);
    let before = m.state_dict();
    let err = m.load(&path).unwrap_err().to_string();
    for name in ["3.bias", "1.running_var", "4.weight", "0.weight", "1.weight", "bad.safetensors"] {
        assert!(err.contains(name), "the error names {name}: {err}");
    }
    for ((n, a), (_, b)) in before.iter().zip(m.state_dict()) {
        assert_close(&b, a, 0.0, 0.0, &format!("{n} unchanged after a failed load"));
    }
    // f16 values load into f32 parameters; I64 integers (PyTorch's) into i32 buffers.
    let lin = nn::Linear::new(2, 1, &cpu);
    let f16 = [
        ("weight", Tensor::from_vec(vec![0.5f32, -1.0], [1, 2], &cpu).cast(DType::F16)),
        ("bias", Tensor::from_vec(vec![2.0f32], [1], &cpu).cast(DType::F16)),
    ];
    save_safetensors(&path, &f16).unwrap();
    lin.load(&path).unwrap();
    assert_eq!(lin.weight.tensor().dtype(), DType::F32);
    assert_eq!(values(&lin.weight.tensor()), [0.5, -1.0]);
}

#[test]
fn int64_tensors_load_as_i32_with_a_range_check() {
    let dir = temp_dir("i64");
    let path = dir.path().join("i64.safetensors");
    let data: Vec<u8> = [3i64, -4].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, st_bytes(r#"{"n":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, &data)).unwrap();
    for dev in devices() {
        let t = &load_safetensors(&path, &dev).unwrap()["n"];
        assert_eq!((t.dtype(), values(t)), (DType::I32, vec![3.0, -4.0]));
    }
    let big: Vec<u8> = [1i64 << 40].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, st_bytes(r#"{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#, &big)).unwrap();
    let err = load_err(&path);
    assert!(err.contains("i64.safetensors") && err.contains("1099511627776"), "{err}");
    // BF16 becomes f32.
    let bf: Vec<u8> =
        [half::bf16::from_f32(1.5), half::bf16::from_f32(-2.0)].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, st_bytes(r#"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, &bf)).unwrap();
    assert_eq!(values(&load_safetensors(&path, &Device::cpu()).unwrap()["b"]), [1.5, -2.0]);
}

#[test]
fn malformed_files_are_errors_naming_the_file() {
    let dir = temp_dir("malformed");
    let path = dir.path().join("broken.safetensors");
    let cpu = Device::cpu();
    save_safetensors(&path, &[("w", Tensor::randn([4, 4], 5, &cpu)), ("b", Tensor::randn([4], 6, &cpu))]).unwrap();
    let good = std::fs::read(&path).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated data", good[..good.len() - 3].to_vec()),
        ("truncated header", good[..20].to_vec()),
        ("shorter than the length prefix", good[..5].to_vec()),
        ("empty", Vec::new()),
        ("huge header length", [u64::MAX.to_le_bytes().to_vec(), good[8..].to_vec()].concat()),
        ("header is not json", st_bytes("not json at all", &[0; 16])),
        ("offsets out of range", st_bytes(r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,1600]}}"#, &[0; 16])),
        (
            "offsets disagree with shape",
            st_bytes(r#"{"w":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}"#, &[0; 16]),
        ),
        (
            "huge shape",
            st_bytes(r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}"#, &[0; 16]),
        ),
        ("unknown dtype", st_bytes(r#"{"w":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}}"#, &[0; 16])),
        ("unsupported dtype", st_bytes(r#"{"w":{"dtype":"U8","shape":[16],"data_offsets":[0,16]}}"#, &[0; 16])),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, bytes).unwrap();
        let err = load_err(&path);
        assert!(err.contains("broken.safetensors"), "{what}: {err}");
    }
    let err = load_err(&dir.path().join("missing.safetensors"));
    assert!(err.contains("missing.safetensors"), "{err}");
    // No truncation or single-byte corruption of a valid file panics.
    for cut in 0..good.len() {
        std::fs::write(&path, &good[..cut]).unwrap();
        assert!(load_safetensors(&path, &cpu).is_err(), "truncated at {cut}");
    }
    for i in 0..good.len().min(200) {
        let mut bad = good.clone();
        bad[i] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        let _ = load_safetensors(&path, &cpu);
    }
    let m = nn::Linear::new(4, 4, &cpu);
    std::fs::write(&path, &good[..30]).unwrap();
    assert!(m.load(&path).unwrap_err().to_string().contains("broken.safetensors"));
}

#[test]
fn a_failed_save_leaves_the_old_file_intact() {
    let dir = temp_dir("atomic");
    let cpu = Device::cpu();
    let path = dir.path().join("model.safetensors");
    let old = nn::Linear::new(2, 2, &cpu);
    old.save(&path).unwrap();
    let old_bytes = std::fs::read(&path).unwrap();
    // Block the temporary file with a directory of its name: the write fails before
    // anything touches `path`.
    let tmp = dir.path().join(format!("model.safetensors.tmp-{}", std::process::id()));
    std::fs::create_dir(&tmp).unwrap();
    let new = nn::Linear::new(2, 2, &cpu);
    let err = new.save(&path).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), old_bytes, "the old file is intact");
    std::fs::remove_dir(&tmp).unwrap();
    new.save(&path).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), old_bytes);
    // A path in a missing directory is an Err naming it, and leaves nothing behind.
    let missing = dir.path().join("no-such-dir").join("m.safetensors");
    let err = new.save(&missing).unwrap_err().to_string();
    assert!(err.contains("no-such-dir/m.safetensors"), "{err}");
    let entries: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(entries, ["model.safetensors"]);
}
