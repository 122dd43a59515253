//! Running candidate code away from this process: one `python3` child per candidate, which limits itself before
//! the candidate runs (the shared harness, `crates/solve/src/harness.py`: CPU time, address space, no file writes, no new processes, an
//! audit hook that refuses sockets, subprocesses, signals and file changes), in an empty temporary directory,
//! with an empty environment, under a wall-clock timeout enforced from here.
//!
//! What it does not isolate: there is no network namespace (the audit hook refuses Python's socket calls, not a
//! C extension's), the child can read files its user can read, and it runs as the invoking user. It stops
//! accidents and runaway programs — loops, memory bombs, fork bombs, stray writes — not a determined attacker.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use unmask_solve::Example;
use unmask_solve::job::{self, HARNESS, ProcessLimits};
pub use unmask_solve::job::{ErrorKind, Outcome};

/// Limits for one candidate.
#[derive(Clone, Debug)]
pub struct Limits {
    pub cpu_seconds: u64,
    pub wall: Duration,
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { cpu_seconds: 2, wall: Duration::from_secs(5), memory_bytes: 512 << 20 }
    }
}

pub struct Sandbox {
    python: PathBuf,
    limits: Limits,
}

impl Sandbox {
    /// Checks that `python` runs (a clear error when it is missing).
    pub fn new(python: &Path, limits: Limits) -> Result<Self> {
        let version = Command::new(python).arg("--version").env_clear().output();
        match version {
            Ok(out) if out.status.success() => Ok(Sandbox { python: python.to_owned(), limits }),
            Ok(out) => bail!("{} --version exited with {}", python.display(), out.status),
            Err(err) => bail!(
                "cannot run {} ({err}): `unmask solve` runs the candidates with Python 3; install it or pass --python PATH",
                python.display()
            ),
        }
    }

    /// Runs `program` (prompt + completion), then each example and probe call, in a fresh child process.
    pub fn run(&self, program: &str, examples: &[Example], probes: &[String]) -> Result<Outcome> {
        let limits = ProcessLimits { cpu_seconds: self.limits.cpu_seconds, memory_bytes: self.limits.memory_bytes };
        let job = job::job(program, examples, probes, Some(limits));
        let workdir = TempDir::new()?;
        let mut child = Command::new(&self.python)
            .args(["-I", "-S", "-c", HARNESS])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .current_dir(&workdir.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.python.display()))?;
        let mut stdin = child.stdin.take().context("the child's stdin")?;
        // A candidate that never reads cannot block us: the job is small and written before we wait.
        let _ = stdin.write_all(job.as_bytes());
        drop(stdin);
        let stdout = child.stdout.take().context("the child's stdout")?;
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::Read::take(stdout, 16 << 20), &mut text);
            text
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for the candidate")? {
                break Some(status);
            }
            if started.elapsed() > self.limits.wall {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let text = reader.join().unwrap_or_default();
        Ok(match (status, job::answer(&text)) {
            (_, Some(outcome)) => outcome.context("the sandbox's answer")?,
            (None, None) => Outcome::timeout(format!("still running after {:.0?} (wall clock)", self.limits.wall)),
            (Some(status), None) => ended_early(status),
        })
    }
}

/// The child ended without an answer: killed for CPU time (a timeout), or the candidate ended the process.
fn ended_early(status: std::process::ExitStatus) -> Outcome {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // SIGXCPU at the soft CPU limit, SIGKILL at the hard one.
        if matches!(status.signal(), Some(24 | 9)) {
            return Outcome::timeout("used up its CPU time".into());
        }
    }
    Outcome {
        parses: true,
        error: Some(ErrorKind::Exception),
        detail: Some(format!("the candidate ended the process ({status})")),
        ..Outcome::default()
    }
}

/// An empty directory for one child, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("unmask-sandbox-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "def double(n):\n    \"\"\"Twice n.\n\n    >>> double(2)\n    4\n    \"\"\"\n";

    fn run(body: &str) -> Outcome {
        let sandbox = Sandbox::new(Path::new("python3"), Limits::default()).unwrap();
        let examples = unmask_solve::examples(PROMPT);
        sandbox.run(&format!("{PROMPT}{body}"), &examples, &["double(5)".to_owned(), "double('a')".to_owned()]).unwrap()
    }

    #[test]
    fn a_correct_candidate_passes_and_reports_its_probes() {
        let outcome = run("    return n * 2\n");
        assert!(outcome.passed(), "{outcome:?}");
        assert_eq!(outcome.probes, ["10", "'aa'"]);
    }

    #[test]
    fn wrong_answers_exceptions_and_syntax_errors_are_told_apart() {
        let outcome = run("    return n + 1\n");
        assert_eq!(outcome.error, Some(ErrorKind::WrongAnswer));
        assert_eq!(outcome.detail.as_deref(), Some("double(2) gave 3, expected 4"));
        assert_eq!(run("    return n / 0\n").error, Some(ErrorKind::Exception));
        let outcome = run("    return (n\n");
        assert_eq!((outcome.parses, outcome.error), (false, Some(ErrorKind::Syntax)));
        // Printing to the real stdout cannot forge the answer.
        let outcome = run("    import sys; sys.__stdout__.write('@@unmask-sandbox-result@@ {}\\n')\n    return 0\n");
        assert_eq!(outcome.error, Some(ErrorKind::WrongAnswer));
    }

    #[test]
    fn hostile_candidates_cost_a_failure_and_nothing_else() {
        // Ends by the CPU limit or, on a busy machine, by the wall-clock kill: a timeout either way.
        assert_eq!(run("    while True:\n        pass\n").error, Some(ErrorKind::Timeout));
        let bomb = run("    x = [0] * (10 ** 10)\n    return 4\n");
        assert_eq!(bomb.error, Some(ErrorKind::Exception), "{bomb:?}");
        let fork = run("    import os\n    while True:\n        os.fork()\n");
        assert_eq!(fork.error, Some(ErrorKind::Exception), "{fork:?}");
        assert!(fork.detail.unwrap().contains("PermissionError"));
        let target = std::env::temp_dir().join(format!("unmask-sandbox-escape-{}", std::process::id()));
        let write = run(&format!("    open({:?}, 'w').write('x')\n    return 4\n", target.display().to_string()));
        assert_eq!(write.error, Some(ErrorKind::Exception), "{write:?}");
        assert!(!target.exists(), "the candidate wrote {}", target.display());
        let socket = run("    import socket\n    socket.socket().connect(('127.0.0.1', 9))\n    return 4\n");
        assert_eq!(socket.error, Some(ErrorKind::Exception), "{socket:?}");
        assert!(socket.detail.unwrap().contains("PermissionError"));
        let subprocess = run("    import subprocess\n    subprocess.run(['true'])\n    return 4\n");
        assert_eq!(subprocess.error, Some(ErrorKind::Exception), "{subprocess:?}");
    }

    #[test]
    fn a_missing_python_is_a_clear_error() {
        let err = Sandbox::new(Path::new("/no/python3"), Limits::default()).err().unwrap().to_string();
        assert!(err.contains("runs the candidates with Python 3"), "{err}");
    }
}
