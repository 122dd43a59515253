//! Shared by the GPU tests: the device, seeded random data, tolerances, random models.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use unmask_gpu::Gpu;
use unmask_model::{ModelConfig, Weights};

/// One device for the whole test binary (lavapipe in CI).
pub fn gpu() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = pollster::block_on(Gpu::new()).expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
        eprintln!("adapter: {:?}", gpu.summary());
        Arc::new(gpu)
    })
    .clone()
}

pub fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// Seeded uniform numbers in [−scale, scale) (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn uniform(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| ((self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale).collect()
    }

    pub fn below(&mut self, n: u32) -> u32 {
        (self.next() % n as u64) as u32
    }
}

/// |a − e| ≤ atol + rtol·|e| everywhere; reports the worst element.
pub fn assert_close(actual: &[f32], expected: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let mut worst = (0.0f32, 0usize);
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let excess = (a - e).abs() - (atol + rtol * e.abs());
        assert!(!a.is_nan(), "{what}: NaN at {i}");
        if excess > worst.0 {
            worst = (excess, i);
        }
    }
    let i = worst.1;
    assert!(worst.0 <= 0.0, "{what}: element {i} is {} but the reference says {}", actual[i], expected[i]);
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A Qwen2-shaped config for random models.
pub fn config(
    hidden: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    intermediate: usize,
    vocab: usize,
) -> ModelConfig {
    ModelConfig {
        model_type: "qwen2".into(),
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: intermediate,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kv_heads,
        head_dim: hidden / heads,
        max_position_embeddings: 512,
        rope_theta: 10_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        mask_token_id: 1,
        eos_token_ids: vec![0],
        pad_token_id: None,
        shift_logits: true,
        dtype: Some("float32".into()),
    }
}

/// Random f32 weights for `config` (see `Weights::random`).
pub fn random_weights(config: &ModelConfig, seed: u64) -> Weights {
    Weights::random(config, seed)
}
