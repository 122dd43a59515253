//! The shipped diffusion coder `models/unmask-coder-0.5b`: a delta (mask-gated adapters, 35 MB) over the fetched
//! Qwen2.5-Coder-0.5B-Instruct GGUF. These tests guard what its card promises: it loads over its base as the card
//! describes it, and its recommended decoding writes the teacher's own greedy answer (the AR floor) in fewer
//! forward passes than tokens.
//!
//! The base is not in the repository: `cargo xtask qwen-coder` fetches it and runs these tests with
//! `UNMASK_QWEN_CODER_GGUF` naming it (CI does the same, in its pretrained-models step).

use unmask_fast::{FastModel, FastOptions};
use unmask_model::prompt::{Prompt, PromptFormat};
use unmask_model::{AttentionKind, ModelDir};
use unmask_sampler::{Algorithm, Decoded, EndsAlso, Recommended, SamplerConfig, Unobserved, generate};
use unmask_tests::{qwen_coder_gguf, repo_path};

const DELTA: &str = "models/unmask-coder-0.5b";
/// The size limit for a shipped delta: every clone of the repository downloads it.
const MAX_DELTA_BYTES: u64 = 80_000_000;

fn base() -> ModelDir {
    ModelDir::open(&qwen_coder_gguf()).unwrap()
}

fn recommended() -> Recommended {
    Recommended::parse(&std::fs::read_to_string(repo_path(DELTA).join("generation_config.json")).unwrap()).unwrap()
}

#[test]
#[ignore = "needs the Qwen2.5-Coder GGUF file: run `cargo xtask qwen-coder`"]
fn qwen_coder_delta_loads_as_its_card_says() {
    let bytes = std::fs::metadata(repo_path(DELTA).join("model.safetensors")).unwrap().len();
    assert!(bytes <= MAX_DELTA_BYTES, "the delta is {bytes} bytes");
    let base = base();
    let teacher_tensors = base.weights.names().len();
    let model = ModelDir::open_delta(&repo_path(DELTA), base).unwrap();
    let config = &model.config;
    assert_eq!(config.attention, AttentionKind::MasksSeeBlock { block_size: 16 });
    assert_eq!(config.adapter_rank, Some(32));
    // Every projection of every layer has its two low-rank factors, and the masks their own embedding.
    let names = model.weights.names();
    let projections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"]
        .into_iter()
        .chain(["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]);
    for layer in 0..24 {
        for projection in projections.clone() {
            for factor in ["lora_a", "lora_b"] {
                let name = format!("model.layers.{layer}.{projection}.{factor}");
                assert!(names.contains(&name.as_str()), "{name} is missing");
            }
        }
    }
    assert_eq!(names.len() - teacher_tensors, 24 * 7 * 2 + 1, "the delta holds the adapters and nothing else");
    assert!(names.contains(&"model.mask_embedding"));
    let decoding = recommended().decoding;
    assert_eq!(decoding.algorithm, Algorithm::Threshold);
    assert!(decoding.commit_leftmost && decoding.verify_drafts, "the AR floor needs both: {decoding:?}");
    assert_eq!(decoding.temperature, 0.0);
    assert_eq!(recommended().prompt_format, Some(PromptFormat::ChatOpened));
}

/// The answer's tokens (up to its end) and the passes that wrote them.
fn answer(decoded: &Decoded, prompt_len: usize, mask: u32, ends: &[u32]) -> (Vec<u32>, usize) {
    let range = decoded.completion_range(prompt_len, mask, |t| ends.contains(&t));
    (decoded.tokens[range].to_vec(), decoded.steps.len())
}

/// The AR floor on the real model: with its recommended settings the coder writes, token for token, what the
/// teacher (the base file alone, read as the plain causal model) writes greedily left to right, and it needs
/// fewer forward passes than it writes tokens. A delta whose drafts were worse than nothing would still pass the
/// first half (checked drafts are corrected), so the second is what the training bought.
#[test]
#[ignore = "needs the Qwen2.5-Coder GGUF file: run `cargo xtask qwen-coder`"]
fn qwen_coder_delta_writes_the_teachers_answer_in_fewer_passes() {
    let teacher_dir = base();
    let coder_dir = ModelDir::open_delta(&repo_path(DELTA), base()).unwrap();
    let options = FastOptions { max_len: 256, ..FastOptions::default() };
    let mut teacher = FastModel::load(&teacher_dir.config, &teacher_dir.weights, options).unwrap();
    let mut coder = FastModel::load(&coder_dir.config, &coder_dir.weights, options).unwrap();

    let prompts = [
        "def count_vowels(text: str) -> int:\n    \"\"\"Return how many letters of text are vowels (a, e, i, o, u), \
         in either case.\"\"\"\n",
        "def clamp(x: float, low: float, high: float) -> float:\n    \"\"\"Return x limited to the range from low \
         to high.\"\"\"\n",
    ];
    let mask = coder_dir.config.mask_token_id;
    let format = PromptFormat::ChatOpened;
    let ends = format.end_tokens(&coder_dir.tokenizer, coder_dir.config.end_token_ids());
    let decoding = SamplerConfig { max_new_tokens: 96, ..recommended().decoding };
    let left_to_right = SamplerConfig { algorithm: Algorithm::LeftToRight, ..decoding.clone() };
    let (mut tokens, mut passes) = (0, 0);
    for code in prompts {
        let prompt = Prompt::new(format, coder_dir.chat_template.as_ref(), code).unwrap();
        let ids = coder_dir.tokenizer.encode(&prompt.text).unwrap();
        let run = |engine: &mut FastModel, config: &SamplerConfig| {
            let decoded =
                generate(&mut EndsAlso { model: engine, extra: &ends }, &ids, config, &mut Unobserved).unwrap();
            answer(&decoded, ids.len(), mask, &ends)
        };
        let (expected, _) = run(&mut teacher, &left_to_right);
        let (written, steps) = run(&mut coder, &decoding);
        let text = coder_dir.tokenizer.decode(&written).unwrap();
        assert_eq!(written, expected, "the coder's answer left the teacher's:\n{text}");
        assert!(!written.is_empty() && text.contains("return"), "{text}");
        eprintln!("{} tokens in {steps} passes:\n{text}", written.len());
        (tokens, passes) = (tokens + written.len(), passes + steps);
    }
    assert!(passes < tokens, "{tokens} tokens took {passes} passes: no faster than left to right");
}
