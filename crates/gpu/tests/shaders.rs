//! Every WGSL file parses and validates on its own with naga, without a device.

use unmask_gpu::shaders;

#[test]
fn every_shader_validates() {
    assert!(shaders::ALL.len() >= 7);
    for shader in shaders::ALL {
        let module = naga::front::wgsl::parse_str(shader.source)
            .unwrap_or_else(|e| panic!("{}.wgsl: {}", shader.name, e.emit_to_string(shader.source)));
        // `unpack2x16float` is core WebGPU; naga files it under this capability.
        let capabilities = naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32;
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}.wgsl: {}", shader.name, e.emit_to_string(shader.source)));
        let entry = module.entry_points.iter().find(|e| e.name == "main");
        assert!(
            entry.is_some_and(|e| e.stage == naga::ShaderStage::Compute),
            "{}.wgsl has a compute `main`",
            shader.name
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_registry_covers_the_shaders_folder() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".wgsl").map(str::to_owned))
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = shaders::ALL.iter().map(|s| s.name.to_owned()).collect();
    registered.sort();
    assert_eq!(registered, on_disk);
}
