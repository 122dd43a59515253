//! Random weights of any shape, for benchmarks and tests.

use std::collections::BTreeMap;

use super::{TensorData, Weights, write_safetensors};
use crate::arch;
use crate::config::ModelConfig;

impl Weights {
    /// Random f32 weights for `config`, with q/k/v biases, deterministic in `seed`: for benchmarks and
    /// tests that need a model of a given shape. Linear weights are uniform in ±1/√fan_in (the embedding
    /// ±8/√hidden, so logits spread like a trained model's), norm weights 1 ± 0.1, biases ±0.1.
    pub fn random(config: &ModelConfig, seed: u64) -> Weights {
        let mut state = seed;
        let mut uniform = move |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    // splitmix64: any decent generator will do for random weights.
                    state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    z ^= z >> 31;
                    ((z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
                })
                .collect()
        };
        let tensors: Vec<(String, TensorData)> = arch::tensor_names(config)
            .into_iter()
            .map(|(name, shape)| {
                let n: usize = shape.iter().product();
                let fan_in = *shape.last().expect("tensors have a shape") as f32;
                let values = if name.ends_with("norm.weight") {
                    uniform(n, 0.1).into_iter().map(|v| 1.0 + v).collect()
                } else if name.ends_with("bias") {
                    uniform(n, 0.1)
                } else if name == arch::tensors::EMBED {
                    uniform(n, 8.0 / fan_in.sqrt())
                } else {
                    uniform(n, 1.0 / fan_in.sqrt())
                };
                (name, TensorData::F32 { shape, values })
            })
            .collect();
        let bytes = write_safetensors(&tensors, &BTreeMap::new()).expect("random tensors have consistent shapes");
        Weights::from_bytes(vec![("random.safetensors".into(), bytes)]).expect("a file we just wrote parses")
    }
}
