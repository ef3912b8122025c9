//! Every WGSL module the launchers can compose parses and validates with naga.

use naga::valid::{Capabilities, ValidationFlags, Validator};

#[test]
fn every_composed_shader_validates() {
    let variants = wgrad_gpu::kernels::all_variants();
    assert!(variants.len() > 100, "expected every op x dtype variant, got {}", variants.len());
    let mut failures = Vec::new();
    for (name, src) in &variants {
        let module = match naga::front::wgsl::parse_str(src) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: parse error: {}", e.emit_to_string(src)));
                continue;
            }
        };
        let mut validator = Validator::new(ValidationFlags::all(), Capabilities::all());
        if let Err(e) = validator.validate(&module) {
            failures.push(format!("{name}: {}", e.emit_to_string(src)));
        }
    }
    assert!(failures.is_empty(), "{} of {} shaders fail:\n{}", failures.len(), variants.len(), failures.join("\n"));
}

#[test]
fn every_shader_file_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shaders");
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    for name in on_disk {
        assert!(
            wgrad_gpu::shaders::ALL.iter().any(|f| f.name == name),
            "shaders/{name} is not in wgrad_gpu::shaders::ALL"
        );
    }
}

/// `all_variants` is written by hand; a registered file that no variant composes would
/// skip validation silently. `shaders::compose` marks each module with its file's name.
#[test]
fn every_shader_file_is_composed_by_some_variant() {
    let variants = wgrad_gpu::kernels::all_variants();
    for file in wgrad_gpu::shaders::ALL {
        let marker = format!("// {}\n", file.name);
        assert!(
            variants.iter().any(|(_, src)| src.contains(&marker)),
            "shaders/{} is composed by no variant of wgrad_gpu::kernels::all_variants: add its variants there",
            file.name
        );
    }
}

/// The number of `KernelKey` variants: [`variant_index`] numbers them `0..VARIANTS`.
const VARIANTS: usize = 31;

/// A `KernelKey` variant's number. The match is exhaustive: a new variant fails to compile
/// until it has a number here (and `VARIANTS` counts it).
fn variant_index(key: &wgrad_gpu::KernelKey) -> usize {
    use wgrad_gpu::KernelKey as K;
    match key {
        K::Elementwise { .. } => 0,
        K::Reduce { .. } => 1,
        K::Matmul { .. } => 2,
        K::MatmulFewRows { .. } => 3,
        K::MatmulRegisterBlocked { .. } => 4,
        K::MatmulTiled { .. } => 5,
        K::Gather { .. } => 6,
        K::GatherBackward { .. } => 7,
        K::IndexAdd { .. } => 8,
        K::SortInit { .. } => 9,
        K::SortStep => 10,
        K::Cumsum { .. } => 11,
        K::Softmax { .. } => 12,
        K::SoftmaxBackward { .. } => 13,
        K::LayerNorm => 14,
        K::LayerNormBackward => 15,
        K::Attention { .. } => 16,
        K::AttentionBackward { .. } => 17,
        K::Adam { .. } => 18,
        K::LstmCell { .. } => 19,
        K::LstmCellBackward { .. } => 20,
        K::GruCell { .. } => 21,
        K::GruCellBackward { .. } => 22,
        K::Conv2d(..) => 23,
        K::Conv2dPack => 24,
        K::Conv2dGradWeight(..) => 25,
        K::PadRows => 26,
        K::Pool2d { .. } => 27,
        K::Pool2dBackward => 28,
        K::MaxPool2dBounds => 29,
        K::MaxPool2dBackward => 30,
    }
}

/// `kernels::all_kernels` is written by hand; a `KernelKey` variant it lists no key of
/// would skip naga validation silently.
#[test]
fn every_kernel_key_variant_has_a_validated_kernel() {
    let mut seen = [false; VARIANTS];
    for key in wgrad_gpu::kernels::all_kernels() {
        let i = variant_index(&key);
        assert!(i < VARIANTS, "{key}: variant {i} is not counted in VARIANTS ({VARIANTS})");
        seen[i] = true;
    }
    let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !seen[i]).collect();
    assert!(
        missing.is_empty(),
        "KernelKey variants {missing:?} (see variant_index) have no entry in kernels::all_kernels"
    );
}
