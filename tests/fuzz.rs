//! Byte-mutation fuzzing of every parser that reads a model (see `src/mutate.rs`): safetensors headers and
//! data, `config.json`, the q8/q4 metadata, `tokenizer.json` and GGUF files. Each mutated input must give an
//! answer — a model, or an error — never a panic, an abort on allocation or a hang; what a parser accepts is
//! then loaded by the reference and the fast engine, which must not panic either.
//!
//! CI runs a short pass (`cargo test --test fuzz`); the long run is
//! `UNMASK_FUZZ_ITERS=1000000 cargo test --release -p unmask-tests --test fuzz` (README, "Testing").
//!
//! Why not cargo-fuzz or AFL: both need a nightly compiler or an instrumenting toolchain, and CI has stable
//! Rust and no network beyond the registries. Mutating valid fixtures reaches the deep checks that purely
//! random bytes never pass.

use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_model::convert::{WeightFormat, convert_weights};
use unmask_model::{ModelConfig, ModelDir, QuantScheme, Tokenizer, Weights};
use unmask_tests::mutate::{fuzz, iterations};
use unmask_tests::repo_path;

/// CI's short run: inputs per parser.
const SHORT: usize = 3000;

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(repo_path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Loads a model that parsed with both engines (allocating from its sizes), on a short canvas.
fn load_both(dir: &ModelDir) {
    if CpuModel::load(&dir.config, &dir.weights).is_ok() {
        let options = FastOptions { threads: 1, max_len: 16, ..FastOptions::default() };
        if let Ok(mut fast) = FastModel::load(&dir.config, &dir.weights, options) {
            let _ = fast.logits_of_rows(&[0, 1, 2], &[2]);
        }
    }
}

fn parts(name: &str) -> (String, Vec<u8>, Vec<u8>) {
    let config = String::from_utf8(read(&format!("tests/fixtures/{name}/config.json"))).unwrap();
    (
        config,
        read(&format!("tests/fixtures/{name}/model.safetensors")),
        read(&format!("tests/fixtures/{name}/tokenizer.json")),
    )
}

#[test]
fn safetensors_files() {
    let (config, f32_file, tokenizer) = parts("tiny-llama");
    let parsed = ModelConfig::from_json(&config, "config.json").unwrap();
    let weights = Weights::from_bytes(vec![("model.safetensors".into(), f32_file.clone())]).unwrap();
    let mut seeds = vec![f32_file, read("tests/fixtures/tiny-qwen2-f16/model.safetensors")];
    // The quantized formats carry their own metadata (`unmask.quant`, group size) and scale tensors.
    for scheme in QuantScheme::ALL {
        seeds.push(convert_weights(&parsed, &weights, WeightFormat::Quant { scheme, group_size: 16 }).unwrap());
    }
    let accepted = fuzz("safetensors", &seeds, iterations(SHORT), |bytes| {
        let Ok(weights) = Weights::from_bytes(vec![("model.safetensors".into(), bytes.to_vec())]) else {
            return false;
        };
        for name in weights.names().iter().map(|n| n.to_string()).collect::<Vec<_>>() {
            if let Some(info) = weights.info(&name) {
                let _ = weights.f32(&name, &info.shape);
                let _ = weights.quant(&name);
            }
        }
        match ModelDir::from_parts("fuzz".into(), &config, weights, &tokenizer) {
            Ok(dir) => {
                load_both(&dir);
                true
            }
            Err(_) => false,
        }
    });
    assert!(accepted > 0, "no mutated safetensors file was accepted: the fuzzer never reached the loaders");
}

#[test]
fn config_files() {
    let seeds: Vec<Vec<u8>> = ["tiny-llama", "tiny-qwen2"].iter().map(|n| parts(n).0.into_bytes()).collect();
    let bundles: Vec<_> = ["tiny-llama", "tiny-qwen2"].iter().map(|n| parts(n)).collect();
    let accepted = fuzz("config", &seeds, iterations(SHORT), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let Ok(config) = ModelConfig::from_json(&text, "config.json") else { return false };
        // The config against both fixtures' weights: sizes that disagree with a file must be refused.
        let mut any = false;
        for (_, weights, tokenizer) in &bundles {
            let weights = Weights::from_bytes(vec![("model.safetensors".into(), weights.clone())]).unwrap();
            if let Ok(dir) = ModelDir::from_parts("fuzz".into(), &text, weights, tokenizer) {
                load_both(&dir);
                any = true;
            }
        }
        let _ = config.parameter_count();
        any
    });
    assert!(accepted > 0, "no mutated config was accepted");
}

#[test]
fn tokenizer_files() {
    let seeds = vec![read("tests/fixtures/tiny-llama/tokenizer.json"), read("models/unmask-coder/tokenizer.json")];
    let accepted = fuzz("tokenizer", &seeds, iterations(SHORT / 10), |bytes| {
        let Ok(tokenizer) = Tokenizer::from_bytes(bytes) else { return false };
        if let Ok(ids) = tokenizer.encode("def add(a, b):\n    return a + b\n") {
            let _ = tokenizer.decode(&ids);
        }
        true
    });
    assert!(accepted > 0, "no mutated tokenizer was accepted");
}

#[test]
fn gguf_files() {
    let seeds = vec![read("tests/fixtures/tiny-llama.gguf"), read("tests/fixtures/gguf-types.gguf")];
    let accepted = fuzz("gguf", &seeds, iterations(SHORT), |bytes| {
        let _ = unmask_model::gguf::import(bytes);
        match ModelDir::from_gguf("fuzz.gguf".into(), bytes) {
            Ok(dir) => {
                load_both(&dir);
                true
            }
            Err(_) => false,
        }
    });
    assert!(accepted > 0, "no mutated GGUF file was accepted");
}
