//! Byte-mutation fuzzing of the page's own parsers, natively (the harness is `unmask_tests::mutate`): the
//! model manifest and the settings in the page's URL. Each mutated input must give a manifest or an error,
//! and settings within their ranges (with warnings) — never a panic, which in the page would abort the module.
//! The long run: `UNMASK_FUZZ_ITERS=1000000 cargo test --release -p unmask-web --test fuzz`.
#![cfg(not(target_arch = "wasm32"))]

use unmask_tests::mutate::{fuzz, iterations};
use unmask_web::loader::{MAX_FILE_BYTES, Manifest};
use unmask_web::settings::Settings;

const SHORT: usize = 20_000;

const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn manifest(files: &[(&str, u64)]) -> String {
    let files: Vec<_> =
        files.iter().map(|(name, bytes)| serde_json::json!({"name": name, "bytes": bytes, "sha256": HASH})).collect();
    serde_json::json!({"name": "unmask-coder", "quant": "q8", "parameters": 4_000_000, "files": files}).to_string()
}

const GOOD: [(&str, u64); 3] = [("config.json", 700), ("tokenizer.json", 90_000), ("model.safetensors", 4_500_000)];

#[test]
fn a_manifest_that_lies_is_refused() {
    assert!(Manifest::parse(&manifest(&GOOD)).is_ok());
    let refused = |files: &[(&str, u64)], why: &str| {
        let error = Manifest::parse(&manifest(files)).unwrap_err();
        assert!(error.contains(why), "{error}");
    };
    refused(&[GOOD[0], GOOD[1], ("model.safetensors", u64::MAX)], "more than the page can hold");
    refused(&[GOOD[0], GOOD[1], ("model.safetensors", MAX_FILE_BYTES), ("extra.bin", 2)], "add up to");
    refused(&[GOOD[0], GOOD[1]], "lists no model.safetensors");
    refused(&[GOOD[0], ("model.safetensors", 1)], "lists no tokenizer.json");
    refused(&[GOOD[0], GOOD[1], GOOD[2], GOOD[0]], "listed twice");
    refused(&[GOOD[0], GOOD[1], ("../model.safetensors", 1)], "not a plain file name");
    let bad_hash = manifest(&GOOD).replacen(HASH, "ABC", 1);
    assert!(Manifest::parse(&bad_hash).unwrap_err().contains("64 lowercase hex"));
}

/// A model over a shared base: the base's weights count towards the page's limit and its name is as plain as
/// any file's; with a base, a model needs no weights of its own.
#[test]
fn a_base_is_held_to_the_same_rules() {
    let with_base = |base: serde_json::Value, files: &[(&str, u64)]| {
        let mut m: serde_json::Value = serde_json::from_str(&manifest(files)).unwrap();
        m["base"] = base;
        Manifest::parse(&m.to_string())
    };
    let base = |name: &str, bytes: u64| serde_json::json!({"name": name, "bytes": bytes, "sha256": HASH});
    let teacher = with_base(base("qwen.safetensors", 400_000_000), &GOOD[..2]).unwrap();
    assert_eq!(teacher.total_bytes(), 400_090_700);
    assert!(with_base(base("qwen.safetensors", 400_000_000), &GOOD).is_ok(), "a delta over a base");
    let refused = |result: Result<Manifest, String>, why: &str| {
        let error = result.unwrap_err();
        assert!(error.contains(why), "{error}");
    };
    refused(with_base(base("../../secret", 1), &GOOD[..2]), "not a plain file name");
    refused(with_base(base("q.safetensors", MAX_FILE_BYTES), &GOOD), "add up to");
    let bad_hash = serde_json::json!({"name": "q.safetensors", "bytes": 1, "sha256": "not hex"});
    refused(with_base(bad_hash, &GOOD[..2]), "64 lowercase hex");
    refused(Manifest::parse(&manifest(&GOOD[..2])), "no model.safetensors and no base");
}

#[test]
fn manifests() {
    let seeds = vec![manifest(&GOOD).into_bytes()];
    let accepted = fuzz("manifest", &seeds, iterations(SHORT), |bytes| {
        let Ok(manifest) = Manifest::parse(&String::from_utf8_lossy(bytes)) else { return false };
        assert!(manifest.total_bytes() <= MAX_FILE_BYTES, "a manifest over the limit was accepted");
        true
    });
    assert!(accepted > 0, "no mutated manifest was accepted");
}

#[test]
fn url_settings() {
    let seeds = vec![
        b"prompt=def add(a, b):&strategy=llada&temperature=0.7&steps=32&length=64&top_p=0.95&top_k=40&seed=7".to_vec(),
        b"backend=cpu&alg_temp=0.5&block_length=8&threshold=0.9&steps=1&length=1".to_vec(),
    ];
    let accepted = fuzz("url", &seeds, iterations(SHORT), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let pairs = text.split('&').map(|pair| pair.split_once('=').unwrap_or((pair, "")));
        let (settings, _warnings) = Settings::from_pairs(Settings::default(), pairs);
        // Whatever the link says, the run it starts has valid settings.
        assert!(settings.run_config().validate().is_ok(), "{text}: invalid settings accepted");
        true
    });
    assert_eq!(accepted, iterations(SHORT));
}
