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
fn a_closed_stdout_ends_the_run_quietly() {
    // A pipe whose reader is already gone: the first line unmask prints meets a broken pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_unmask"))
        .args(["bench", "--shape", "hidden=32,layers=1,heads=2,kv-heads=1,intermediate=64,vocab=64"])
        .args(["--engines", "cpu", "--seq", "8", "--iters", "1"])
        .stdout(writer)
        .output()
        .expect("runs");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
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
fn a_models_generation_config_sets_the_defaults_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture().join(file), dir.path().join(file)).unwrap();
    }
    let settings = r#"{"algorithm": "left_to_right", "max_new_tokens": 5, "temperature": 0.0}"#;
    std::fs::write(dir.path().join("generation_config.json"), settings).unwrap();
    let model = dir.path().to_str().unwrap();
    let trace_of = |extra: &[&str]| -> Trace {
        let trace = dir.path().join("trace.json");
        let mut args = vec!["generate", "--model", model, "--prompt", "def f(x):", "--quiet"];
        args.extend(["--trace", trace.to_str().unwrap()]);
        args.extend(extra);
        let output = unmask(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_str(&std::fs::read_to_string(trace).unwrap()).unwrap()
    };
    let trace = trace_of(&[]);
    assert_eq!(trace.params["algorithm"], "left_to_right");
    assert_eq!(trace.steps.len(), 5, "one step per token, five tokens");
    let trace = trace_of(&["--max-new-tokens", "3"]);
    assert_eq!((trace.params["algorithm"].as_str(), trace.steps.len()), (Some("left_to_right"), 3));
}

#[test]
fn solve_samples_runs_the_examples_and_reports_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = dir.path().join("prompt.py");
    std::fs::write(&prompt, "def double(n):\n    \"\"\"Twice n.\n\n    >>> double(2)\n    4\n    \"\"\"\n").unwrap();
    let model = fixture();
    // Three samples in batches of `batch`, their report in `name`.
    let solve = |batch: &str, name: &str| {
        let json = dir.path().join(name);
        let output = unmask(&[
            "solve",
            "--model",
            model.to_str().unwrap(),
            "--prompt-file",
            prompt.to_str().unwrap(),
            "--samples",
            "3",
            "--max-new-tokens",
            "8",
            "--temperature",
            "1",
            "--seed",
            "7",
            "--batch",
            batch,
            "--json",
            json.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (output, report)
    };
    let (output, report) = solve("2", "solve.json");
    assert!(stderr(&output).contains("sampled 3, parsed"), "{}", stderr(&output));
    assert_eq!(report["examples"][0]["call"], "double(2)");
    assert!(report["probes"].as_array().unwrap().iter().any(|p| p == "double(3)"));
    let samples = report["samples"].as_array().unwrap();
    assert_eq!(samples.iter().map(|s| s["seed"].as_u64().unwrap()).collect::<Vec<_>>(), [7, 8, 9]);
    for s in samples {
        assert_eq!(s["examples_total"], 1);
        // A sample that does not parse failed as a syntax error; one that passed has a group.
        if s["parses"] == false {
            assert_eq!(s["error"], "syntax");
        }
        assert_eq!(s["cluster"].is_null(), !s["error"].is_null() || s["examples_passed"] != 1);
    }
    let chosen = report["chosen"][0].as_u64().unwrap() as usize;
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim_end(), samples[chosen]["ran"].as_str().unwrap().trim_end());

    // Decoded one at a time, the samples are the same (a batch of 2 and a batch of 1 above).
    let (_, solo) = solve("1", "solo.json");
    let completions = |r: &serde_json::Value| {
        r["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["completion"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(completions(&report), completions(&solo));
    assert_fails(
        &["solve", "--model", model.to_str().unwrap(), "--prompt-file", prompt.to_str().unwrap(), "--batch", "65"],
        1,
        "--batch is 65",
    );

    assert_fails(
        &["solve", "--model", model.to_str().unwrap(), "--prompt-file", prompt.to_str().unwrap(), "--samples", "0"],
        1,
        "--samples is 0",
    );
    assert_fails(
        &[
            "solve",
            "--model",
            model.to_str().unwrap(),
            "--prompt-file",
            prompt.to_str().unwrap(),
            "--python",
            "/no/python",
        ],
        1,
        "runs the candidates with Python 3",
    );
}

/// An infilling prompt: the sandbox runs each sample's prompt with its holes filled, and the answer printed is
/// that whole program.
#[test]
fn solve_fills_the_holes_of_an_infilling_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = dir.path().join("prompt.py");
    let text = "def double(n):\n    \"\"\"Twice n.\n\n    >>> double(2)\n    4\n    \"\"\"\n    return n <|mask|> 2\n";
    std::fs::write(&prompt, text).unwrap();
    let json = dir.path().join("solve.json");
    let model = fixture();
    let output = unmask(&[
        "solve",
        "--model",
        model.to_str().unwrap(),
        "--prompt-file",
        prompt.to_str().unwrap(),
        "--samples",
        "2",
        "--max-new-tokens",
        "0",
        "--temperature",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let samples = report["samples"].as_array().unwrap();
    for s in samples {
        let filled = s["filled_prompt"].as_str().expect("a filled prompt for a prompt with holes");
        assert!(filled.starts_with("def double(n):\n") && filled.contains("\n    return n "), "{filled:?}");
        assert!(!filled.contains("<|mask|>"), "{filled:?}");
        assert_eq!(s["ran"], "", "nothing after the prompt was asked for");
        // The sandbox read the filled program: a syntax error is reported on the hole's line (7), if any.
        if s["error"] == "syntax" {
            assert!(s["detail"].as_str().unwrap().starts_with("line 7:"), "{}", s["detail"]);
        }
    }
    let chosen = report["chosen"][0].as_u64().unwrap() as usize;
    assert_eq!(String::from_utf8_lossy(&output.stdout), samples[chosen]["filled_prompt"].as_str().unwrap());
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
        "--batch",
        "1,3",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = String::from_utf8(output.stdout).unwrap();
    // The batch table: samples/s one by one and batched, for batches of 1 and 3, on every engine that ran.
    let batch_rows = out.lines().skip_while(|l| !l.starts_with("whole decodes")).filter(|l| l.ends_with('x'));
    let sizes: Vec<&str> = batch_rows.filter_map(|l| l.split_whitespace().rev().nth(3)).collect();
    assert!(sizes.len() >= 8 && sizes.chunks(2).all(|pair| pair == ["1", "3"]), "{out}");
    // One row per engine that ran: the reference and the fast CPU engine always, the GPU engines where an
    // adapter exists (lavapipe in CI), each with its ratio to the reference.
    let engine_table = out.split("whole decodes").next().unwrap();
    let rows: Vec<&str> = engine_table
        .lines()
        .filter(|l| {
            (l.starts_with("cpu reference f32 ") || l.starts_with("fast cpu ") || l.starts_with("gpu "))
                && l.ends_with('x')
        })
        .collect();
    assert!(rows.iter().any(|r| r.starts_with("cpu reference f32") && r.ends_with("1.00x")), "{out}");
    assert_eq!(rows.iter().filter(|r| r.starts_with("fast cpu ")).count(), 3, "{out}");
    let gpu_rows = rows.iter().filter(|r| r.starts_with("gpu ")).count();
    assert!(gpu_rows == 3 || out.contains("GPU engines skipped"), "{out}");
}

#[test]
fn generate_gives_the_same_completion_on_every_engine() {
    // The tiny fixture, and the shipped 4 M-parameter model (trained weights, a real tokenizer).
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/unmask-coder");
    for (model, prompt) in [(fixture(), "def f(x):"), (shipped, "def add(a, b):\n    \"\"\"Sum.\"\"\"\n")] {
        let run = |backend: &str| {
            let output = unmask(&[
                "generate",
                "--model",
                model.to_str().unwrap(),
                "--prompt",
                prompt,
                "--backend",
                backend,
                "--max-new-tokens",
                "24",
                "--steps",
                "8",
                "--temperature",
                "0.7",
                "--seed",
                "3",
                "--quiet",
            ]);
            assert!(output.status.success(), "{backend}: {}", stderr(&output));
            String::from_utf8(output.stdout).unwrap()
        };
        let reference = run("cpu");
        assert_eq!(run("gpu"), reference, "gpu: {}", model.display());
        assert_eq!(run("fast"), reference, "fast: {}", model.display());
    }
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

    let layers = copy("layers");
    let config = std::fs::read_to_string(layers.join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&config).unwrap();
    config["num_hidden_layers"] = 1_000_000_000_000u64.into();
    std::fs::write(layers.join("config.json"), config.to_string()).unwrap();
    assert_fails(
        &["generate", "--model", layers.to_str().unwrap(), "--prompt", "x"],
        1,
        "num_hidden_layers is 1000000000000, but the weights",
    );

    let nan = copy("nan");
    let mut bytes = std::fs::read(nan.join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let norm = &header["model.norm.weight"];
    assert_eq!(norm["dtype"], "F32");
    let at = 8 + header_len + norm["data_offsets"][0].as_u64().unwrap() as usize;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(nan.join("model.safetensors"), bytes).unwrap();
    assert_fails(
        &["generate", "--model", nan.to_str().unwrap(), "--prompt", "x"],
        1,
        "tensor `model.norm.weight`: value 0 is NaN: weights must be finite",
    );

    let bad_settings = copy("bad_settings");
    std::fs::write(bad_settings.join("generation_config.json"), "{\"steps\": \"many\"}").unwrap();
    assert_fails(
        &["generate", "--model", bad_settings.to_str().unwrap(), "--prompt", "x"],
        1,
        "generation_config.json: not a set of decoding settings",
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
    // A huge answer is refused before anything is allocated for it (on every algorithm).
    for steps in [&[][..], &["--steps", "8"]] {
        let args = [&["generate", "--model", model, "--prompt", "x", "--max-new-tokens", "4000000000"][..], steps];
        assert_fails(&args.concat(), 1, "4000000000 new tokens = 4000000001 tokens, longer than the model's context");
    }
    assert_fails(
        &["generate", "--model", model, "--prompt", "x", "--prompt-format", "chat"],
        1,
        "prompt format chat: the model has no chat template it can render (only ChatML); use bare",
    );
    assert_fails(
        &["generate", "--model", model, "--prompt", "x", "--prompt-format", "fancy"],
        2,
        "invalid value 'fancy' for '--prompt-format <PROMPT_FORMAT>': expected one of bare, chat, chat_opened",
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

/// `unmask convert` to `format` (extra flags after it) into `out`; returns stderr.
fn convert(out: &Path, format: &str, extra: &[&str]) -> String {
    let model = fixture();
    let mut args = vec!["convert", model.to_str().unwrap(), "--quant", format, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = unmask(&args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    assert!(output.stdout.is_empty(), "convert reports on stderr");
    stderr(&output)
}

#[test]
fn converted_models_inspect_and_generate() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture is 64 wide (intermediate 128): groups of 32 divide every matrix.
    for (format, dtype) in [("q8", "Q8 139.3 K"), ("q4", "Q4 139.3 K"), ("f16", "F16 139.8 K")] {
        let out = dir.path().join(format);
        let group: &[&str] = if format == "f16" { &[] } else { &["--group-size", "32"] };
        let err = convert(&out, format, group);
        assert!(err.contains("wrote") && err.contains("top-1 agreement"), "{err}");
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            assert!(out.join(file).is_file(), "{format}: {file}");
        }
        let inspect = unmask(&["inspect", out.to_str().unwrap()]);
        let text = String::from_utf8(inspect.stdout).unwrap();
        // 139,840 parameters (counted by tools/reference/make_tiny_model.py): 139,264 in matrices, quantized, and
        // 576 in norms and q/k/v biases, which stay f32.
        assert!(text.contains("parameters   139.8 K (139,840 stored)"), "{text}");
        assert!(text.contains(dtype), "{format}: {text}");
        if format != "f16" {
            assert!(text.contains(&format!("unmask.quant = {format}")), "{text}");
            assert!(text.contains("unmask.group_size = 32"), "{text}");
        }
        let output = unmask(&[
            "generate",
            "--model",
            out.to_str().unwrap(),
            "--prompt",
            "def add(a, b):\n",
            "--max-new-tokens",
            "8",
            "--steps",
            "8",
        ]);
        assert!(output.status.success(), "{format}: {}", stderr(&output));
        assert!(output.stdout.len() > 1 && output.stdout.ends_with(b"\n"), "{format}: the completion");
    }
    // f16 of an f32 model is rounding alone: measured max |Δlogit| 0.041 on logits of mean magnitude 1.6.
    let err = convert(&dir.path().join("f16"), "f16", &[]);
    let max: f32 = err.split("max |Δlogit| ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(max > 0.0 && max < 0.1, "{err}");
}

#[test]
fn f32_conversion_decodes_exactly_like_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("copy");
    let err = convert(&out, "f32", &[]);
    assert!(err.contains("max |Δlogit| 0.0000, mean |Δlogit| 0.00000, top-1 agreement 100.0%"), "{err}");
    let generate = |model: &Path| {
        let args = ["--prompt", "def add(a, b):\n", "--max-new-tokens", "12", "--temperature", "0.7", "--seed", "5"];
        let mut all = vec!["generate", "--model", model.to_str().unwrap(), "--quiet"];
        all.extend_from_slice(&args);
        unmask(&all).stdout
    };
    assert_eq!(generate(&out), generate(&fixture()));
}

#[test]
fn convert_protects_directories_and_rejects_bad_formats() {
    let model = fixture();
    let model = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_str = out.to_str().unwrap();

    // An earlier conversion may be overwritten; a directory with other files only with --force.
    convert(&out, "q8", &["--no-check"]);
    convert(&out, "q4", &["--no-check"]);
    let inspect = String::from_utf8(unmask(&["inspect", out_str]).stdout).unwrap();
    assert!(inspect.contains("unmask.quant = q4"), "{inspect}");
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    assert_fails(
        &["convert", model, "--quant", "q8", "--out", out_str],
        1,
        "holds files an earlier conversion did not write (notes.txt); pass --force",
    );
    // --force keeps the foreign file, and a stale shard index no longer shadows the new weights.
    std::fs::write(out.join("model.safetensors.index.json"), "{}").unwrap();
    let err = convert(&out, "q8", &["--force", "--no-check"]);
    assert!(err.contains("removed") && !out.join("model.safetensors.index.json").exists(), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    assert!(String::from_utf8(unmask(&["inspect", out_str]).stdout).unwrap().contains("unmask.quant = q8"));

    assert_fails(&["convert", model, "--quant", "q8", "--out", model], 1, "is the source model directory");
    std::fs::write(dir.path().join("file"), "").unwrap();
    let file = dir.path().join("file");
    assert_fails(&["convert", model, "--quant", "q8", "--out", file.to_str().unwrap()], 1, "is not a directory");
    let fresh = dir.path().join("fresh");
    let fresh = fresh.to_str().unwrap();
    assert_fails(
        &["convert", model, "--quant", "q8", "--group-size", "24", "--out", fresh],
        1,
        "tensor `model.embed_tokens.weight`: cannot quantize to q8: 64 columns are not a multiple of the group size 24",
    );
    assert!(!Path::new(fresh).exists(), "nothing written when the conversion fails");
    assert_fails(
        &["convert", model, "--quant", "q4", "--group-size", "4", "--out", fresh],
        1,
        "group size 4 is not a multiple of 8",
    );
    assert_fails(
        &["convert", model, "--quant", "f16", "--group-size", "32", "--out", fresh],
        1,
        "--group-size applies to q8, q4 and q4a only",
    );
    assert_fails(&["convert", model, "--quant", "q3", "--out", fresh], 2, "invalid value 'q3' for '--quant <QUANT>'");
}

/// `--prompts`: one model load for a file of prompts, one `{"id", "trace"}` line each, the same completion as
/// `--prompt` gives for each; a line that is not a prompt is a one-line error naming it.
#[test]
fn a_file_of_prompts_decodes_each_as_alone() {
    let model = fixture();
    let model = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = ["def add(a, b):\n", "x = 1\n"];
    let file = dir.path().join("prompts.jsonl");
    let lines: Vec<String> =
        prompts.iter().enumerate().map(|(i, p)| serde_json::json!({"id": i, "prompt": p}).to_string()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let flags = ["--max-new-tokens", "6", "--steps", "3", "--temperature", "0.5", "--quiet"];
    let output = unmask(&[&["generate", "--model", model, "--prompts", file.to_str().unwrap()][..], &flags].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for (i, (line, prompt)) in lines.iter().zip(prompts).enumerate() {
        assert_eq!(line["id"], i);
        let trace: Trace = serde_json::from_value(line["trace"].clone()).unwrap();
        let alone = unmask(&[&["generate", "--model", model, "--prompt", prompt][..], &flags].concat());
        assert_eq!(format!("{}\n", trace.completion), String::from_utf8(alone.stdout).unwrap(), "prompt {i}");
    }
    std::fs::write(&file, "{\"prompt\": \"x\"}\nnot json\n").unwrap();
    assert_fails(&["generate", "--model", model, "--prompts", file.to_str().unwrap()], 1, "line 2: not a JSON object");
}
