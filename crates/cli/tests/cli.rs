//! The `unmask` binary end to end on the tiny fixture model: every algorithm runs, the output contract holds
//! (completion alone on stdout), and each kind of bad input exits non-zero with one line that says why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use unmask_model::Trace;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-qwen2")
}

fn unmask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unmask")).args(args).output().expect("runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `args`, expects failure with exit code `code` and exactly one stderr line containing `needle`.
fn assert_fails(args: &[&str], code: i32, needle: &str) {
    let output = unmask(args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line expected, got: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(output.stdout.is_empty(), "nothing on stdout on failure");
}

#[test]
fn every_algorithm_generates() {
    let model = fixture();
    let model = model.to_str().unwrap();
    let variants: &[&[&str]] = &[
        &["--algorithm", "dream", "--alg", "origin"],
        &["--algorithm", "dream", "--alg", "maskgit_plus"],
        &["--algorithm", "dream", "--alg", "topk_margin"],
        &["--algorithm", "dream", "--alg", "entropy", "--alg-temp", "0.5"],
        &["--algorithm", "llada", "--remasking", "low_confidence", "--block-length", "4"],
        &["--algorithm", "llada", "--remasking", "random"],
        &["--algorithm", "threshold", "--threshold", "0.1"],
        &["--algorithm", "left_to_right"],
    ];
    for variant in variants {
        let mut args = vec!["generate", "--model", model, "--prompt", "def add(a, b):\n", "--max-new-tokens", "8"];
        args.extend_from_slice(&["--steps", "8", "--temperature", "0.5", "--seed", "3"]);
        args.extend_from_slice(variant);
        let output = unmask(&args);
        assert!(output.status.success(), "{variant:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("AR-ness local@1"), "{variant:?}: summary on stderr");
        assert!(output.stdout.ends_with(b"\n"), "{variant:?}: the completion, one newline-terminated print");
    }
}

#[test]
fn entropy_sampling_decodes_out_of_order_and_traces_it() {
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("trace.json");
    let model = fixture();
    let output = unmask(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "def add(a, b):\n",
        "--max-new-tokens",
        "16",
        "--steps",
        "16",
        "--alg",
        "entropy",
        "--temperature",
        "0.8",
        "--seed",
        "1",
        "--show-steps",
        "--trace",
        trace_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("── step 1 ·") && err.contains('░'), "step view shows masks: {err}");
    let trace: Trace = serde_json::from_str(&std::fs::read_to_string(&trace_path).unwrap()).unwrap();
    assert_eq!(trace.steps.len(), 16);
    assert_eq!(trace.params["alg"], "entropy");
    let order: Vec<u32> = trace.steps.iter().flat_map(|s| s.commits.iter().map(|c| c.position)).collect();
    assert!(order.windows(2).any(|w| w[1] < w[0]), "positions unmasked out of left-to-right order: {order:?}");
    assert!(trace.ar_ness.global_1 < 1.0);
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim_end_matches('\n'), trace.completion);
}

#[test]
fn infilling_fills_holes_in_the_prompt() {
    let model = fixture();
    let output = unmask(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "def add(a, b):\n<|mask|><|mask|>\n    return a\n",
        "--max-new-tokens",
        "0",
        "--steps",
        "2",
        "--temperature",
        "0",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.starts_with("def add(a, b):\n") && stdout.ends_with("\n    return a\n\n"), "{stdout:?}");
    assert!(!stdout.contains("<|mask|>"));
}

#[test]
fn inspect_describes_the_model() {
    let output = unmask(&["inspect", fixture().to_str().unwrap()]);
    assert!(output.status.success());
    let out = String::from_utf8(output.stdout).unwrap();
    // 139,840 parameters, counted independently by tools/reference/make_tiny_model.py.
    assert!(out.contains("parameters   139.8 K"), "{out}");
    assert!(out.contains("4 query heads, 2 key/value heads"), "{out}");
    assert!(out.contains("mask token   1 \"<|mask|>\""), "{out}");
}

#[test]
fn bench_runs_on_a_random_model() {
    let output = unmask(&[
        "bench",
        "--shape",
        "hidden=64,layers=1,heads=2,kv-heads=1,intermediate=128,vocab=256",
        "--seq",
        "32",
        "--iters",
        "1",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(out.contains("forward    median") && out.contains("tokens/s"), "{out}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let model = fixture();
    let model = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let target = dir.path().join(name);
        std::fs::create_dir(&target).unwrap();
        for file in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(fixture().join(file), target.join(file)).unwrap();
        }
        target
    };

    assert_fails(
        &["generate", "--model", "/no/such/model", "--prompt", "x"],
        1,
        "/no/such/model: no such model directory",
    );

    let malformed = copy("malformed");
    std::fs::write(malformed.join("config.json"), "{\"model_type\": \"qwen2\",").unwrap();
    assert_fails(&["inspect", malformed.to_str().unwrap()], 1, "config.json: malformed JSON");

    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("model.safetensors")).unwrap();
    std::fs::write(truncated.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    assert_fails(
        &["generate", "--model", truncated.to_str().unwrap(), "--prompt", "x"],
        1,
        "model.safetensors: invalid safetensors: the file is",
    );

    let no_tokenizer = copy("no_tokenizer");
    std::fs::remove_file(no_tokenizer.join("tokenizer.json")).unwrap();
    assert_fails(&["inspect", no_tokenizer.to_str().unwrap()], 1, "tokenizer.json: No such file");

    let long_prompt = "def f(x):\n    return x\n".repeat(40);
    assert_fails(
        &["generate", "--model", model, "--prompt", &long_prompt],
        1,
        "longer than the model's context of 128",
    );

    assert_fails(
        &["generate", "--model", model, "--prompt", "x", "--alg", "fancy"],
        2,
        "invalid value 'fancy' for '--alg <ALG>' [possible values: origin, maskgit_plus, topk_margin, entropy]",
    );
    assert_fails(
        &["generate", "--model", model, "--prompt", "x", "--temperature", "-3"],
        1,
        "invalid temperature = -3: expected 0 ≤ temperature ≤ 10",
    );
    assert_fails(&["generate", "--model", model, "--prompt", "x", "--top-p", "1.5"], 1, "invalid top_p = 1.5");
    assert_fails(
        &["generate", "--model", model, "--prompt-file", "/no/prompt.txt"],
        1,
        "reading prompt file /no/prompt.txt",
    );
    assert_fails(&["generate", "--model", model], 2, "required arguments were not provided: --prompt");
    assert_fails(&["generate", "--model", model, "--prompt", "x", "--max-new-tokens", "0"], 1, "nothing to decode");
    assert_fails(
        &["generate", "--model", model, "--prompt", "x", "--algorithm", "llada", "--steps", "1", "--block-length", "4"],
        1,
        "invalid steps = 1: expected steps ≥ 16",
    );
}
