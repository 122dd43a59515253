//! Whole-model parity with the CPU reference on lavapipe (or whatever adapter the machine has).

use std::sync::Arc;

use unmask_cpu::CpuModel;
use unmask_gpu::{Gpu, GpuModel, GpuOptions};
use unmask_model::ModelDir;

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

#[test]
fn tiny_fixture_logits_match_the_cpu_reference() {
    let dir = ModelDir::open(&repo("tests/fixtures/tiny-qwen2")).unwrap();
    let cpu = CpuModel::load(&dir.config, &dir.weights).unwrap();
    let gpu = Arc::new(pollster::block_on(Gpu::new()).unwrap());
    eprintln!("{:?}", gpu.summary());
    let model = pollster::block_on(GpuModel::load(gpu, &dir.config, &dir.weights, GpuOptions::default())).unwrap();
    let tokens: Vec<u32> = (0..37).map(|i| (i * 7 + 3) % dir.config.vocab_size as u32).collect();
    let expected = cpu.logits(&tokens, None).unwrap();
    let actual = pollster::block_on(model.logits(&tokens)).unwrap();
    let max = expected.iter().zip(&actual).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    eprintln!("max |Δlogit| {max:.2e}");
    assert!(max < 1e-3);
}
