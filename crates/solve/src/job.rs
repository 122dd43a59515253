//! The sandbox's protocol, one definition for both places candidate code runs (a `python3` child natively, a
//! Pyodide worker in the page): the job a harness is given, the harness itself ([`HARNESS`], Python), and the
//! outcome it answers with on its last line that carries [`MARKER`].

use serde::{Deserialize, Serialize};

use crate::{Example, Form};

/// The harness: reads the job (JSON) on stdin, runs the candidate, writes its outcome after [`MARKER`].
pub const HARNESS: &str = include_str!("harness.py");
/// What starts the harness's answer line. The candidate's own output comes before it and cannot forge it:
/// the answer is the last such line.
pub const MARKER: &str = "@@unmask-sandbox-result@@ ";

/// Limits the harness sets on its own process before the candidate runs (where the OS has `setrlimit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessLimits {
    pub cpu_seconds: u64,
    pub memory_bytes: u64,
}

/// The job for one candidate: `program` (prompt + completion), then each example and probe call.
/// `limits: None` means the host enforces them (the page terminates the worker at its deadline).
pub fn job(program: &str, examples: &[Example], probes: &[String], limits: Option<ProcessLimits>) -> String {
    let examples: Vec<_> = examples
        .iter()
        .map(|e| {
            serde_json::json!({
                "setup": e.setup, "call": e.call, "expected": e.expected,
                "form": if e.form == Form::Doctest { "doctest" } else { "value" },
            })
        })
        .collect();
    let limits = limits.map(|l| serde_json::json!({ "cpu_s": l.cpu_seconds, "memory_bytes": l.memory_bytes }));
    serde_json::json!({ "program": program, "examples": examples, "probes": probes, "limits": limits }).to_string()
}

/// The outcome in the harness's output: `None` when it wrote no answer line (it was stopped, or the candidate
/// ended the process), an error when the line is not an outcome.
pub fn answer(output: &str) -> Option<Result<Outcome, serde_json::Error>> {
    output.lines().rev().find_map(|line| line.strip_prefix(MARKER)).map(serde_json::from_str)
}

/// Why a candidate failed, if it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Syntax,
    Exception,
    Timeout,
    WrongAnswer,
}

/// What one candidate did: whether it parses, each example passed or not (with what it gave), its output on
/// each probe call (`raised X` for an error), and the first failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub parses: bool,
    pub error: Option<ErrorKind>,
    pub detail: Option<String>,
    pub examples: Vec<ExampleOutcome>,
    pub probes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleOutcome {
    pub passed: bool,
    pub got: String,
}

impl Outcome {
    /// Parsed and gave every stated example's answer.
    pub fn passed(&self) -> bool {
        self.parses && self.error.is_none() && self.examples.iter().all(|e| e.passed)
    }

    /// A candidate stopped at its time limit (it parsed: syntax is checked before anything runs).
    pub fn timeout(detail: String) -> Self {
        Outcome { parses: true, error: Some(ErrorKind::Timeout), detail: Some(detail), ..Outcome::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_carries_examples_probes_and_limits() {
        let examples = crate::examples("def f(x):\n    \"\"\"\n    >>> f(1)\n    2\n\n    f(2) == 3\n    \"\"\"\n");
        let limits = ProcessLimits { cpu_seconds: 2, memory_bytes: 1 << 20 };
        let sent: serde_json::Value =
            serde_json::from_str(&job("p", &examples, &["f(9)".into()], Some(limits))).unwrap();
        assert_eq!(sent["program"], "p");
        assert_eq!(
            sent["examples"][0],
            serde_json::json!({"setup": [], "call": "f(1)", "expected": "2", "form": "doctest"})
        );
        assert_eq!(sent["examples"][1]["form"], "value");
        assert_eq!(sent["probes"], serde_json::json!(["f(9)"]));
        assert_eq!(sent["limits"], serde_json::json!({"cpu_s": 2, "memory_bytes": 1048576}));
        let unlimited: serde_json::Value = serde_json::from_str(&job("p", &[], &[], None)).unwrap();
        assert!(unlimited["limits"].is_null());
    }

    #[test]
    fn the_answer_is_the_last_marked_line() {
        let line = |passed: bool| {
            format!(
                "{MARKER}{{\"parses\":true,\"error\":null,\"detail\":null,\"examples\":[{{\"passed\":{passed},\"got\":\"2\"}}],\"probes\":[]}}"
            )
        };
        let output = format!("noise\n{}\nmore noise\n{}\n", line(false), line(true));
        let outcome = answer(&output).unwrap().unwrap();
        assert!(outcome.passed(), "{outcome:?}");
        assert!(answer("no answer here\n").is_none());
        assert!(answer(&format!("{MARKER}{{not json")).unwrap().is_err());
    }
}
