//! Every WGSL module the launchers can compose parses and validates with naga.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use wgrad_gpu::kernels::all_kernels;
use wgrad_gpu::KernelKind;

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

/// `kernels::all_kernels` is written by hand; a `KernelKey` variant it lists no key of
/// would skip naga validation silently. `KernelKind` is generated from the variants.
#[test]
fn every_kernel_key_variant_has_a_validated_kernel() {
    use strum::IntoEnumIterator;
    let listed: std::collections::HashSet<KernelKind> = all_kernels().iter().map(KernelKind::from).collect();
    let missing: Vec<KernelKind> = KernelKind::iter().filter(|kind| !listed.contains(kind)).collect();
    assert!(missing.is_empty(), "KernelKey variants {missing:?} have no entry in kernels::all_kernels");
}
