//! Logits parity with Hugging Face `transformers` (LlamaForCausalLM) under every attention kind, on a tiny
//! random tied Llama in f32 and f16, and on its GGUF twin (mixed tensor types, Q/K rows in llama.cpp's order).
//! Fixtures: `tools/reference/make_tiny_llama.py`.

use unmask_cpu::CpuModel;
use unmask_model::{Architecture, AttentionKind, ModelDir};
use unmask_tests::{assert_close, f32_matrix, max_abs_diff, read_json, repo_path, u32_vec};

/// transformers runs the same f32 math in another summation order; observed differences are ~1e-6.
const ATOL: f32 = 1e-4;
const RTOL: f32 = 1e-4;

fn kind_of(case: &serde_json::Value) -> AttentionKind {
    let block = case["block_size"].as_u64().map(|b| b as usize);
    AttentionKind::parse(case["attention"].as_str().unwrap(), block).unwrap()
}

#[test]
fn llama_logits_match_transformers_for_every_attention_kind() {
    let fixture = read_json("tests/fixtures/tiny-llama/expected_logits.json");
    let mut kinds_seen = std::collections::BTreeSet::new();
    let mut compared = 0;
    for model_case in fixture["models"].as_array().unwrap() {
        let dir = model_case["model_dir"].as_str().unwrap();
        let mut model_dir = ModelDir::open(&repo_path(dir)).unwrap();
        assert_eq!(model_dir.config.architecture, Architecture::Llama);
        assert!(!model_dir.config.qkv_bias);
        assert_eq!(model_dir.config.attention, AttentionKind::Causal, "{dir}: config.json names the kind");
        for case in model_case["cases"].as_array().unwrap() {
            model_dir.config.attention = kind_of(case);
            let model = CpuModel::load(&model_dir.config, &model_dir.weights).unwrap();
            let ids = u32_vec(&case["input_ids"]);
            let expected = f32_matrix(&case["logits"]);
            let actual = model.logits(&ids, None).unwrap();
            let what = format!("{dir} {} {}", case["name"].as_str().unwrap(), model_dir.config.attention.name());
            assert_close(&actual, &expected, ATOL, RTOL, &what);
            eprintln!("{what}: max |Δlogit| {:.2e}", max_abs_diff(&actual, &expected));
            kinds_seen.insert(model_dir.config.attention.name());
            compared += 1;
        }
    }
    assert_eq!(compared, 12, "every fixture case was compared");
    assert_eq!(kinds_seen.len(), 3, "{kinds_seen:?}");
}

/// The GGUF twin runs as stored (Q8_0/Q4_0/Q4_1 as our q8/q4/q4a, BF16 widened, F16 as f16) and gives what
/// transformers gives on the `gguf` package's dequantization of the same bytes.
#[test]
fn gguf_twin_logits_match_transformers_on_the_gguf_package_dequantization() {
    let fixture = read_json("tests/fixtures/tiny-llama-gguf.json");
    let model_dir = ModelDir::open(&repo_path("tests/fixtures/tiny-llama.gguf")).unwrap();
    let config = &model_dir.config;
    assert_eq!(config.architecture, Architecture::Llama);
    assert_eq!(config.attention, AttentionKind::Causal, "GGUF models are causal unless the file says otherwise");
    assert_eq!(config.mask_token_id as u64, fixture["mask_token_id"].as_u64().unwrap());
    assert_eq!((config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads), (2, 4, 2));
    let model = CpuModel::load(config, &model_dir.weights).unwrap();
    let ids = u32_vec(&fixture["input_ids"]);
    let actual = model.logits(&ids, None).unwrap();
    let expected = f32_matrix(&fixture["logits"]);
    eprintln!("tiny-llama.gguf: max |Δlogit| {:.2e}", max_abs_diff(&actual, &expected));
    assert_close(&actual, &expected, ATOL, RTOL, "tiny-llama.gguf");
}

/// The tokenizer rebuilt from `tokenizer.ggml.*` encodes as the Hugging Face tokenizer the file was made from.
#[test]
fn gguf_tokenizer_matches_the_tokenizer_it_was_made_from() {
    let fixture = read_json("tests/fixtures/tiny-llama-gguf.json");
    let model_dir = ModelDir::open(&repo_path("tests/fixtures/tiny-llama.gguf")).unwrap();
    let cases = fixture["tokenizations"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let ids = model_dir.tokenizer.encode(text).unwrap();
        assert_eq!(ids, u32_vec(&case["ids"]), "ids of {text:?}");
        assert_eq!(model_dir.tokenizer.decode(&ids).unwrap(), text, "round trip of {text:?}");
    }
}
