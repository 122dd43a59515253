//! The Rust tokenizer gives the ids Python `tokenizers` gives: on the tiny fixture's tokenizer
//! (tools/reference/make_tiny_model.py) and on each shipped model's tokenizer over held-out test-split files
//! (tools/train/ship_check.py --write).

use unmask_model::Tokenizer;
use unmask_tests::{read_json, repo_path, u32_vec};

/// Checks every case of a fixture; returns how many were compared.
fn check_fixture(path: &str) -> usize {
    let fixture = read_json(path);
    let json = std::fs::read(repo_path(fixture["tokenizer"].as_str().unwrap())).unwrap();
    let tokenizer = Tokenizer::from_bytes(&json).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let ids = tokenizer.encode(text).unwrap();
        assert_eq!(ids, u32_vec(&case["ids"]), "{path}: ids of {:?}", &text[..text.len().min(60)]);
        // Byte-level BPE round-trips exactly; the fixture records Python's decoding where it differs.
        let expected = case.get("decoded").and_then(|d| d.as_str()).unwrap_or(text);
        assert_eq!(tokenizer.decode(&ids).unwrap(), expected, "{path}: text of {:?}", &text[..text.len().min(60)]);
    }
    cases.len()
}

#[test]
fn tiny_fixture_tokenizer_matches_python() {
    assert!(check_fixture("tests/fixtures/tokenizer_cases.json") >= 10);
}

#[test]
fn shipped_tokenizer_matches_python_on_held_out_files() {
    assert!(check_fixture("tests/fixtures/unmask_coder_tokenizer_cases.json") >= 16);
    let fixture = read_json("tests/fixtures/unmask_coder_tokenizer_cases.json");
    let tokenizer =
        Tokenizer::from_bytes(&std::fs::read(repo_path(fixture["tokenizer"].as_str().unwrap())).unwrap()).unwrap();
    assert_eq!(tokenizer.token_to_id("<|mask|>"), Some(1));
    assert_eq!(tokenizer.token_to_id("<|endoftext|>"), Some(0));
}

#[test]
fn adapted_model_tokenizer_matches_python_on_held_out_files() {
    // The pruned SmolLM2 vocabulary (tools/train/adapt/prune_vocab.py) keeps the special ids 0..16.
    let path = "tests/fixtures/unmask_coder_135m_tokenizer_cases.json";
    assert!(check_fixture(path) >= 16);
    let fixture = read_json(path);
    let tokenizer =
        Tokenizer::from_bytes(&std::fs::read(repo_path(fixture["tokenizer"].as_str().unwrap())).unwrap()).unwrap();
    assert_eq!(tokenizer.token_to_id("<|endoftext|>"), Some(0));
    assert_eq!(tokenizer.token_to_id("<|im_end|>"), Some(2));
    assert_eq!(tokenizer.token_to_id("<empty_output>"), Some(16));
}

#[test]
fn student_tokenizer_matches_python_on_held_out_files() {
    // The student (`models/unmask-coder-36m`) keeps its teacher's pruned vocabulary.
    assert!(check_fixture("tests/fixtures/unmask_coder_36m_tokenizer_cases.json") >= 16);
    let read = |model: &str| std::fs::read(repo_path(&format!("models/{model}/tokenizer.json"))).unwrap();
    assert!(read("unmask-coder-36m") == read("unmask-coder-135m"), "the student's tokenizer is its teacher's");
}
