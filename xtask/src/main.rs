//! `cargo xtask <task>`: everything that is not a plain `cargo build/test`.
//!
//! - `setup`: installs what the test suite needs, idempotently (skips what is already there).
//! - `ci`:    setup, then every check CI runs: rustfmt, clippy (warnings denied), all tests, the wasm32 build.
//!
//! Each step prints its wall time, so a slow CI run says where the time went.

use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Crates that must build for the browser (`wasm32-unknown-unknown`): everything the page will link.
const WASM_CRATES: &[&str] = &["unmask-model", "unmask-sampler", "unmask-cpu"];
const WASM_TARGET: &str = "wasm32-unknown-unknown";

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
    })
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
