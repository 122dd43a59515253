//! Mask-gated models (`attention: masks_see_block` with `adapter_rank`): logits against transformers with the
//! gating added from outside (fixture: `tools/reference/make_tiny_gated.py`), the fast engine's cached passes
//! against the reference, and the AR floor: decoding left to right gives the base model's greedy answer.

use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_model::{AttentionKind, ModelConfig, ModelDir};
use unmask_tests::{assert_close, f32_matrix, greedy, max_abs_diff, read_json, repo_path, u32_vec};

/// transformers runs the same f32 math in another order; observed differences are ~1e-6.
const ATOL: f32 = 1e-4;
const RTOL: f32 = 1e-4;

fn fixture() -> ModelDir {
    ModelDir::open(&repo_path("tests/fixtures/tiny-gated")).unwrap()
}

#[test]
fn gated_logits_match_transformers_with_hooks() {
    let dir = fixture();
    assert_eq!(dir.config.attention, AttentionKind::MasksSeeBlock { block_size: 4 });
    assert_eq!(dir.config.adapter_rank, Some(3));
    let reference = CpuModel::load(&dir.config, &dir.weights).unwrap();
    let mut fast =
        FastModel::load(&dir.config, &dir.weights, FastOptions { threads: 2, ..FastOptions::default() }).unwrap();
    let fixture = read_json("tests/fixtures/tiny-gated/expected_logits.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let ids = u32_vec(&case["input_ids"]);
        let expected = f32_matrix(&case["logits"]);
        let name = case["name"].as_str().unwrap();
        let actual = reference.logits(&ids, None).unwrap();
        assert_close(&actual, &expected, ATOL, RTOL, &format!("reference, {name}"));
        let rows: Vec<usize> = (0..ids.len()).collect();
        let fast_logits = fast.logits_of_rows(&ids, &rows).unwrap();
        assert_close(&fast_logits, &expected, ATOL, RTOL, &format!("fast, {name}"));
        eprintln!(
            "{name}: max |Δlogit| reference {:.1e}, fast {:.1e}",
            max_abs_diff(&actual, &expected),
            max_abs_diff(&fast_logits, &expected)
        );
    }
}

/// The fast engine keeps the rows before the first changed block; masks turning into tokens out of order
/// change which keys the rest of their block sees, so every pass must still equal a full reference pass.
#[test]
fn cached_passes_match_full_passes_of_the_reference() {
    let dir = fixture();
    let reference = CpuModel::load(&dir.config, &dir.weights).unwrap();
    let mut fast =
        FastModel::load(&dir.config, &dir.weights, FastOptions { threads: 2, ..FastOptions::default() }).unwrap();
    let mask = dir.config.mask_token_id;
    let mut canvas = vec![5, 9, 14, 3, 22, 7];
    canvas.resize(20, mask);
    let rows: Vec<usize> = (0..canvas.len()).collect();
    for (position, token) in [(9, 30), (6, 12), (7, 41), (15, 8), (8, 2), (12, 19), (3, 4)] {
        canvas[position] = token;
        let expected = reference.logits(&canvas, None).unwrap();
        let actual = fast.logits_of_rows(&canvas, &rows).unwrap();
        assert_close(&actual, &expected, 1e-4, 1e-4, &format!("after writing position {position}"));
    }
}

/// The AR floor: committing the leftmost mask each step, the gated model writes what its base model (the same
/// file read as a plain causal model, adapters ignored) writes greedily — token positions are the base
/// model's, and the leftmost mask is predicted from one of them.
#[test]
fn left_to_right_decoding_is_the_base_models_greedy_answer() {
    let dir = fixture();
    let base_config = ModelConfig { attention: AttentionKind::Causal, adapter_rank: None, ..dir.config.clone() };
    let mut gated = CpuModel::load(&dir.config, &dir.weights).unwrap();
    let mut base = CpuModel::load(&base_config, &dir.weights).unwrap();
    let prompt = [5, 9, 14, 3, 22, 7];
    let written = greedy(&mut gated, &prompt, 12);
    assert_eq!(written, greedy(&mut base, &prompt, 12));
    // The adapters do change the masks' own predictions: the floor is not a model that ignores them.
    let canvas = [&prompt[..], &[dir.config.mask_token_id; 6]].concat();
    let (gated_logits, base_logits) = (gated.logits(&canvas, None).unwrap(), base.logits(&canvas, None).unwrap());
    let vocab = dir.config.vocab_size;
    assert!(max_abs_diff(&gated_logits[8 * vocab..], &base_logits[8 * vocab..]) > 0.1);
    assert_eq!(max_abs_diff(&gated_logits[..6 * vocab], &base_logits[..6 * vocab]), 0.0);

    let mut fast =
        FastModel::load(&dir.config, &dir.weights, FastOptions { threads: 2, ..FastOptions::default() }).unwrap();
    assert_eq!(greedy(&mut fast, &prompt, 12), written);
}

/// A delta directory (config with `base_model`, only the adapter's tensors) opened over its base gives the
/// same model as the fixture's single directory; a delta repeating a base tensor is refused.
#[test]
fn a_delta_over_its_base_is_the_whole_model() {
    use std::collections::BTreeMap;
    use unmask_model::weights::{TensorData, write_safetensors};

    let whole = fixture();
    let root = std::env::temp_dir().join(format!("unmask-delta-{}", std::process::id()));
    let (base_dir, delta_dir) = (root.join("base"), root.join("delta"));
    let tensors = |keep: &dyn Fn(&str) -> bool| -> Vec<(String, TensorData)> {
        let mut names: Vec<&str> = whole.weights.names().into_iter().filter(|n| keep(n)).collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let shape = whole.weights.info(n).unwrap().shape.clone();
                (n.to_owned(), TensorData::F32 { values: whole.weights.f32(n, &shape).unwrap(), shape })
            })
            .collect()
    };
    let is_delta = |n: &str| n.contains("lora_") || n == "model.mask_embedding";
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("tests/fixtures/tiny-gated/config.json")).unwrap())
            .unwrap();
    let mut base_config = config.clone();
    for key in ["attention", "block_size", "adapter_rank"] {
        base_config.as_object_mut().unwrap().remove(key);
    }
    let mut delta_config = config;
    delta_config["base_model"] = serde_json::json!({"name": "tiny", "file": "base", "fetch": "(test)"});
    for (dir, config, keep) in [
        (&base_dir, base_config, &(|n: &str| !is_delta(n)) as &dyn Fn(&str) -> bool),
        (&delta_dir, delta_config, &is_delta),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        std::fs::write(dir.join("model.safetensors"), write_safetensors(&tensors(keep), &BTreeMap::new()).unwrap())
            .unwrap();
    }
    std::fs::copy(repo_path("tests/fixtures/tiny-gated/tokenizer.json"), base_dir.join("tokenizer.json")).unwrap();

    let composed = ModelDir::open_delta(&delta_dir, ModelDir::open(&base_dir).unwrap()).unwrap();
    assert_eq!(composed.config.adapter_rank, Some(3));
    let canvas = [5, 9, 14, 3, 22, 1, 30, 1, 1, 41];
    let expected = CpuModel::load(&whole.config, &whole.weights).unwrap().logits(&canvas, None).unwrap();
    let actual = CpuModel::load(&composed.config, &composed.weights).unwrap().logits(&canvas, None).unwrap();
    assert_eq!(actual, expected);

    // The delta may not shadow a base tensor.
    let shadowing = [tensors(&is_delta), tensors(&|n: &str| n == "model.norm.weight")].concat();
    std::fs::write(delta_dir.join("model.safetensors"), write_safetensors(&shadowing, &BTreeMap::new()).unwrap())
        .unwrap();
    let err = ModelDir::open_delta(&delta_dir, ModelDir::open(&base_dir).unwrap()).err().unwrap().to_string();
    assert!(err.contains("model.norm.weight") && err.contains("also present in"), "{err}");
    // Opened by path, a delta whose base was never fetched says how to fetch it.
    let err = ModelDir::open(&delta_dir).err().unwrap().to_string();
    assert!(err.contains("delta over tiny") && err.contains("(test)"), "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// Threshold decoding with checked drafts asks for a block's drafts and masks together, with tokens and masks
/// mixed in the block: the fast engine's short, cached passes must still see what the reference's full passes
/// see, so both decode the same trace, commit for commit.
#[test]
fn drafting_decodes_match_the_reference() {
    use unmask_sampler::{Algorithm, SamplerConfig, Unobserved, generate};
    let dir = fixture();
    let mut reference = CpuModel::load(&dir.config, &dir.weights).unwrap();
    let mut fast =
        FastModel::load(&dir.config, &dir.weights, FastOptions { threads: 2, ..FastOptions::default() }).unwrap();
    let prompt = [5, 9, 14, 3, 22, 7];
    let mut drafted = false;
    for threshold in [0.02, 0.05, 0.2] {
        let config = SamplerConfig {
            algorithm: Algorithm::Threshold,
            max_new_tokens: 14,
            block_length: 4,
            align_blocks: true,
            threshold,
            commit_leftmost: true,
            verify_drafts: true,
            temperature: 0.0,
            ..SamplerConfig::default()
        };
        let expected = generate(&mut reference, &prompt, &config, &mut Unobserved).unwrap();
        let actual = generate(&mut fast, &prompt, &config, &mut Unobserved).unwrap();
        let commits = |d: &unmask_sampler::Decoded| {
            d.steps
                .iter()
                .map(|s| s.commits.iter().map(|c| (c.position, c.token)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        assert_eq!(commits(&actual), commits(&expected), "threshold {threshold}");
        assert_eq!(actual.tokens, expected.tokens, "threshold {threshold}");
        // And with the same confidence: a pass that saw less of a block would score its masks otherwise.
        let scores = |d: &unmask_sampler::Decoded| {
            d.steps.iter().flat_map(|s| s.commits.iter().map(|c| c.score)).collect::<Vec<_>>()
        };
        assert_close(&scores(&actual), &scores(&expected), 1e-4, 1e-4, &format!("threshold {threshold}: scores"));
        let made: usize = expected.steps.iter().map(|s| s.commits.len()).sum();
        drafted |= made > 14;
    }
    // Drafts were made (more commits than cells: the wrong ones corrected), so passes mixed tokens and masks in
    // a block.
    assert!(drafted, "no threshold drafted anything");
}
