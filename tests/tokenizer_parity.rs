//! The Rust tokenizer gives the ids Python `tokenizers` gives (fixture: `tools/reference/make_tiny_model.py`).

use unmask_model::Tokenizer;
use unmask_tests::{read_json, repo_path, u32_vec};

#[test]
fn ids_and_text_match_python() {
    let fixture = read_json("tests/fixtures/tokenizer_cases.json");
    let json = std::fs::read(repo_path(fixture["tokenizer"].as_str().unwrap())).unwrap();
    let tokenizer = Tokenizer::from_bytes(&json).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected = u32_vec(&case["ids"]);
        let ids = tokenizer.encode(text).unwrap();
        assert_eq!(ids, expected, "ids of {text:?}");
        assert_eq!(tokenizer.decode(&ids).unwrap(), case["decoded"].as_str().unwrap(), "text of {text:?}");
    }
    assert_eq!(tokenizer.token_to_id("<|mask|>"), Some(1));
}
