//! Helpers shared by the cross-crate tests: fixture paths, float comparison that names the first bad index, and
//! greedy decoding of the pretrained models.

pub mod mutate;

use std::path::PathBuf;

/// The repository root (tests run from `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

/// A path relative to the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    repo_root().join(relative)
}

/// The fetched Qwen2.5-Coder-0.5B-Instruct GGUF, which `UNMASK_QWEN_CODER_GGUF` names (`cargo xtask qwen-coder`
/// fetches it and runs the tests that need it).
pub fn qwen_coder_gguf() -> PathBuf {
    std::env::var_os("UNMASK_QWEN_CODER_GGUF").map(PathBuf::from).expect(
        "UNMASK_QWEN_CODER_GGUF names qwen2.5-coder-0.5b-instruct.gguf; `cargo xtask qwen-coder` fetches it and runs \
         these tests",
    )
}

/// Parses a JSON fixture.
pub fn read_json(relative: &str) -> serde_json::Value {
    let path = repo_path(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts `|a − b| ≤ atol + rtol·|b|` elementwise; the message names the first index that fails and the
/// largest difference seen.
pub fn assert_close(actual: &[f32], expected: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let mut worst = (0.0f32, 0usize);
    let mut first_bad = None;
    for (i, (&a, &b)) in actual.iter().zip(expected).enumerate() {
        let diff = (a - b).abs();
        if diff > worst.0 || diff.is_nan() {
            worst = (diff, i);
        }
        if (diff > atol + rtol * b.abs() || diff.is_nan()) && first_bad.is_none() {
            first_bad = Some(i);
        }
    }
    if let Some(i) = first_bad {
        panic!(
            "{what}: index {i}: {} vs expected {} (atol {atol}, rtol {rtol}); largest |diff| {} at {}",
            actual[i], expected[i], worst.0, worst.1
        );
    }
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

pub fn f32_vec(value: &serde_json::Value) -> Vec<f32> {
    value.as_array().expect("array").iter().map(|v| v.as_f64().expect("number") as f32).collect()
}

pub fn u32_vec(value: &serde_json::Value) -> Vec<u32> {
    value.as_array().expect("array").iter().map(|v| v.as_u64().expect("id") as u32).collect()
}

/// Flattens a JSON `[[f32]]` into one vector.
pub fn f32_matrix(value: &serde_json::Value) -> Vec<f32> {
    value.as_array().expect("rows").iter().flat_map(f32_vec).collect()
}

/// The first `new_tokens` tokens after `prompt` decoded left to right at temperature 0: on a causal model,
/// greedy autoregressive decoding (ARCHITECTURE.md, contract 1).
pub fn greedy(engine: &mut dyn unmask_sampler::Denoiser, prompt: &[u32], new_tokens: usize) -> Vec<u32> {
    use unmask_sampler::{Algorithm, SamplerConfig, Unobserved, generate};
    let config = SamplerConfig {
        algorithm: Algorithm::LeftToRight,
        temperature: 0.0,
        max_new_tokens: new_tokens as u32,
        ..SamplerConfig::default()
    };
    let decoded = generate(engine, prompt, &config, &mut Unobserved).unwrap();
    decoded.tokens[prompt.len()..].to_vec()
}
