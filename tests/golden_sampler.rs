//! Every decoding algorithm against the independent Python reference (`tools/reference/sampler_ref.py`),
//! which implements SAMPLING.md from the math, with logits from `transformers`. Tokens and positions must
//! match exactly; scores within 1e-4 (the two forward passes differ by ~1e-5 in the logits).

use unmask_cpu::CpuModel;
use unmask_model::ModelDir;
use unmask_sampler::{SamplerConfig, Unobserved, generate, metrics, rng};
use unmask_tests::{read_json, repo_path, u32_vec};

const SCORE_TOLERANCE: f64 = 1e-4;

#[test]
fn counter_rng_matches_reference_vectors() {
    let fixture = read_json("tests/fixtures/sampler_cases.json");
    let vectors = fixture["rng_vectors"].as_array().unwrap();
    assert!(vectors.len() >= 5);
    for v in vectors {
        let field = |name: &str| v[name].as_u64().unwrap();
        let bits = rng::bits(
            field("seed"),
            field("step") as u32,
            field("position") as u32,
            field("purpose") as u32,
            field("lane") as u32,
        );
        assert_eq!(bits as u64, field("bits"), "{v}");
        assert_eq!(rng::to_open_unit(bits), v["uniform"].as_f64().unwrap(), "{v}");
    }
}

#[test]
fn every_algorithm_matches_the_reference_trace() {
    let fixture = read_json("tests/fixtures/sampler_cases.json");
    let model_dir = ModelDir::open(&repo_path(fixture["model_dir"].as_str().unwrap())).unwrap();
    let mut model = CpuModel::load(&model_dir.config, &model_dir.weights).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    let mut algorithms_seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        // The fixture writes `null` for parameters an algorithm does not use; take the defaults there.
        let mut params = case["params"].clone();
        params.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        let mut config: SamplerConfig = serde_json::from_value(params).unwrap();
        if config.algorithm == unmask_sampler::Algorithm::Llada {
            config.top_p = 1.0;
        }
        algorithms_seen.insert(format!("{:?}/{:?}/{:?}", config.algorithm, config.alg, config.remasking));
        let prompt = u32_vec(&case["prompt"]);
        let decoded = generate(&mut model, &prompt, &config, &mut Unobserved).unwrap_or_else(|e| panic!("{name}: {e}"));

        let expected_steps = case["steps"].as_array().unwrap();
        assert_eq!(decoded.steps.len(), expected_steps.len(), "{name}: number of steps");
        for (step, expected) in decoded.steps.iter().zip(expected_steps) {
            let commits = expected["commits"].as_array().unwrap();
            let ours: Vec<(u32, u32)> = step.commits.iter().map(|c| (c.position, c.token)).collect();
            let theirs: Vec<(u32, u32)> =
                commits.iter().map(|c| (c[0].as_u64().unwrap() as u32, c[1].as_u64().unwrap() as u32)).collect();
            assert_eq!(ours, theirs, "{name}: step {} commits (position, token)", step.step);
            for (c, e) in step.commits.iter().zip(commits) {
                let diff = (c.score as f64 - e[2].as_f64().unwrap()).abs();
                assert!(
                    diff < SCORE_TOLERANCE,
                    "{name}: step {} position {} score off by {diff}",
                    step.step,
                    c.position
                );
            }
        }
        assert_eq!(decoded.tokens, u32_vec(&case["final"]), "{name}: final canvas");

        let ar = metrics::ar_ness(&decoded.initial, model_dir.config.mask_token_id, &decoded.steps);
        let m = &case["metrics"];
        for (ours, key) in [
            (ar.local_1, "local_ar_1"),
            (ar.local_2, "local_ar_2"),
            (ar.global_1, "global_ar_1"),
            (ar.global_2, "global_ar_2"),
        ] {
            assert!((ours - m[key].as_f64().unwrap()).abs() < 1e-12, "{name}: {key} {ours} vs {}", m[key]);
        }
    }
    // dream × 4 algs, llada × 2 remasking, threshold, left-to-right.
    assert!(algorithms_seen.len() >= 8, "cases cover every algorithm: {algorithms_seen:?}");
}
