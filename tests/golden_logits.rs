//! Logits parity with Hugging Face `transformers` (Qwen2ForCausalLM made bidirectional), on tiny random
//! models in f32, f16 and tied bf16. Fixture: `tools/reference/make_tiny_model.py`.

use unmask_cpu::CpuModel;
use unmask_model::ModelDir;
use unmask_tests::{assert_close, f32_matrix, max_abs_diff, read_json, repo_path, u32_vec};

/// transformers runs the same f32 math in another summation order; observed differences are ~1e-6.
const ATOL: f32 = 1e-4;
const RTOL: f32 = 1e-4;

#[test]
fn logits_match_transformers() {
    let fixture = read_json("tests/fixtures/tiny-qwen2/expected_logits.json");
    let mut compared = 0;
    for model_case in fixture["models"].as_array().unwrap() {
        let dir = model_case["model_dir"].as_str().unwrap();
        let model_dir = ModelDir::open(&repo_path(dir)).unwrap();
        let model = CpuModel::load(&model_dir.config, &model_dir.weights).unwrap();
        let vocab = model_dir.config.vocab_size;
        for case in model_case["cases"].as_array().unwrap() {
            let name = format!("{dir} {}", case["name"].as_str().unwrap());
            let ids = u32_vec(&case["input_ids"]);
            let valid: Vec<bool> = u32_vec(&case["attention_mask"]).iter().map(|&m| m == 1).collect();
            let expected = f32_matrix(&case["logits"]);
            let actual = model.logits(&ids, Some(&valid)).unwrap();
            // Only rows of valid (non-padding) positions are meaningful.
            for (row, _) in valid.iter().enumerate().filter(|(_, v)| **v) {
                let range = row * vocab..(row + 1) * vocab;
                assert_close(&actual[range.clone()], &expected[range], ATOL, RTOL, &format!("{name} row {row}"));
            }
            eprintln!("{name}: max |Δlogit| {:.2e}", max_abs_diff(&actual, &expected));
            compared += 1;
        }
    }
    assert_eq!(compared, 7, "every fixture case was compared");
}

/// The Dream / DiffuCoder convention: position q is predicted from row max(q − 1, 0).
#[test]
fn shifted_logits_match_transformers() {
    let fixture = read_json("tests/fixtures/tiny-qwen2/expected_logits.json");
    for model_case in fixture["models"].as_array().unwrap() {
        let dir = model_case["model_dir"].as_str().unwrap();
        let model_dir = ModelDir::open(&repo_path(dir)).unwrap();
        assert!(model_dir.config.shift_logits);
        let model = CpuModel::load(&model_dir.config, &model_dir.weights).unwrap();
        let case = &model_case["cases"][0];
        let ids = u32_vec(&case["input_ids"]);
        let hidden = model.hidden_states(&ids, None).unwrap();
        let rows: Vec<usize> = (0..ids.len()).map(|q| model_dir.config.logits_row(q)).collect();
        let shifted = model.logits_of_rows(&hidden, &rows);
        assert_close(&shifted, &f32_matrix(&case["shifted_logits"]), ATOL, RTOL, &format!("{dir} shifted"));
    }
}

/// Without the bidirectional mask the first position would not see the last; with it, it must.
#[test]
fn attention_is_bidirectional() {
    let model_dir = ModelDir::open(&repo_path("tests/fixtures/tiny-qwen2")).unwrap();
    let model = CpuModel::load(&model_dir.config, &model_dir.weights).unwrap();
    let a = model.logits(&[10, 20, 30, 40], None).unwrap();
    let b = model.logits(&[10, 20, 30, 41], None).unwrap();
    let vocab = model_dir.config.vocab_size;
    assert!(max_abs_diff(&a[..vocab], &b[..vocab]) > 1e-3);
}
