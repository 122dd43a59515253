//! Shared by the GPU tests: the device, seeded random data, tolerances, random models.
#![allow(dead_code)]

use std::sync::Arc;

use unmask_gpu::Gpu;
use unmask_model::{ModelConfig, Weights};

/// A test that runs natively (`#[test]`, blocking on the future) and in the browser
/// (`#[wasm_bindgen_test]`, awaiting it), so every parity check runs on lavapipe and on WebGPU alike.
#[macro_export]
macro_rules! both {
    ($(#[$attr:meta])* async fn $name:ident() $body:block) => {
        $(#[$attr])*
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            pollster::block_on(async $body)
        }

        $(#[$attr])*
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() $body
    };
}

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// The device (lavapipe natively in CI, SwiftShader's WebGPU in headless Chromium), created once per
/// test binary (natively) or per test (in the browser, where each test is its own task).
pub async fn gpu() -> Arc<Gpu> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static GPU: std::sync::OnceLock<Arc<Gpu>> = std::sync::OnceLock::new();
        if let Some(gpu) = GPU.get() {
            return gpu.clone();
        }
        let gpu = Arc::new(new_gpu().await);
        GPU.get_or_init(|| gpu).clone()
    }
    #[cfg(target_arch = "wasm32")]
    Arc::new(new_gpu().await)
}

async fn new_gpu() -> Gpu {
    let gpu =
        Gpu::new().await.expect("a GPU adapter (lavapipe: mesa-vulkan-drivers; Chromium: --enable-unsafe-webgpu)");
    log(&format!("adapter: {:?}", gpu.summary()));
    gpu
}

/// A line on the test's output (stderr natively, the console in the browser).
pub fn log(line: &str) {
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::console_log!("{}", line);
}

/// Milliseconds from an arbitrary origin.
pub fn now_ms() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1e3
    }
    #[cfg(target_arch = "wasm32")]
    js_sys::Date::now()
}

/// The tiny fixture model, from bytes compiled into the test so it also loads in the browser.
pub fn tiny_fixture() -> unmask_model::ModelDir {
    let weights = Weights::from_bytes(vec![(
        "model.safetensors".into(),
        include_bytes!("../../../../tests/fixtures/tiny-qwen2/model.safetensors").to_vec(),
    )])
    .unwrap();
    unmask_model::ModelDir::from_parts(
        "tiny-qwen2".into(),
        include_str!("../../../../tests/fixtures/tiny-qwen2/config.json"),
        weights,
        include_bytes!("../../../../tests/fixtures/tiny-qwen2/tokenizer.json"),
    )
    .unwrap()
}

/// The tiny mask-gated model (`tools/reference/make_tiny_gated.py`), compiled in like [`tiny_fixture`].
pub fn gated_fixture() -> unmask_model::ModelDir {
    let weights = Weights::from_bytes(vec![(
        "model.safetensors".into(),
        include_bytes!("../../../../tests/fixtures/tiny-gated/model.safetensors").to_vec(),
    )])
    .unwrap();
    unmask_model::ModelDir::from_parts(
        "tiny-gated".into(),
        include_str!("../../../../tests/fixtures/tiny-gated/config.json"),
        weights,
        include_bytes!("../../../../tests/fixtures/tiny-gated/tokenizer.json"),
    )
    .unwrap()
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
    ModelConfig::of_shape(hidden, layers, heads, kv_heads, intermediate, vocab, 2048)
}
