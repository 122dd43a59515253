//! `cargo xtask <task>`: everything that is not a plain `cargo build/test`.
//!
//! - `setup`: installs what the test suite needs, idempotently (skips what is already there): the wasm32
//!   target, and a Python virtual environment with the training pipeline's pinned requirements.
//! - `ci`:    setup, then every check CI runs: rustfmt, clippy (warnings denied), all tests, the wasm32 build,
//!   the training pipeline's smoke test (tiny corpus, a few steps, export, load in the Rust engine), and the
//!   shipped model's check (its recorded evaluation subset, rerun through the Rust engine).
//!
//! Each step prints its wall time, so a slow CI run says where the time went.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Crates that must build for the browser (`wasm32-unknown-unknown`): everything the page will link.
const WASM_CRATES: &[&str] = &["unmask-model", "unmask-sampler", "unmask-cpu"];
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const TRAIN_REQUIREMENTS: &str = "tools/train/requirements.txt";
const SHIPPED_MODEL: &str = "models/unmask-coder";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "setup" => setup(),
        "ci" => ci(),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|ci>\n  setup  install what the tests need (idempotent)\n  ci     setup + fmt, clippy, tests, wasm build"
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
    step("rust target wasm32-unknown-unknown", || {
        let installed = output("rustup", &["target", "list", "--installed"])?;
        if installed.lines().any(|l| l.trim() == WASM_TARGET) {
            println!("  already installed");
            return Ok(());
        }
        run("rustup", &["target", "add", WASM_TARGET])
    })?;
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
    step("python environment for the training pipeline", || {
        let venv = train_venv();
        let stamp = venv.join("requirements.stamp");
        let wanted = std::fs::read_to_string(TRAIN_REQUIREMENTS).context(TRAIN_REQUIREMENTS)?;
        if std::fs::read_to_string(&stamp).is_ok_and(|installed| installed == wanted) {
            println!("  {} already matches {TRAIN_REQUIREMENTS}", venv.display());
            return Ok(());
        }
        run("python3", &["-m", "venv", path_str(&venv)?])?;
        let python = venv.join("bin/python");
        run(
            path_str(&python)?,
            &["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", TRAIN_REQUIREMENTS],
        )?;
        std::fs::write(&stamp, wanted).context("writing the requirements stamp")
    })
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
    let unmask = std::fs::canonicalize(target_dir().join("debug/unmask")).context("the built unmask binary")?;
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
    step("clippy (warnings are errors)", || {
        run("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])
    })?;
    step("tests", || run("cargo", &["test", "--workspace", "--locked"]))?;
    step("wasm32 build", || {
        let mut args = vec!["build", "--locked", "--target", WASM_TARGET];
        for krate in WASM_CRATES {
            args.extend(["-p", krate]);
        }
        run("cargo", &args)
    })?;
    step("training pipeline smoke test", || {
        run("cargo", &["build", "--locked", "-p", "unmask-cli"])?;
        run_training_script(&["tools/train/smoke_test.py"])
    })?;
    step("shipped model reproduces its recorded evaluation subset", || {
        run_training_script(&["tools/train/ship_check.py", "--model", SHIPPED_MODEL])
    })?;
    println!("xtask ci: all checks passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
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
    let status = Command::new(program).args(args).status().with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` exited with {status}", args.join(" "));
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
