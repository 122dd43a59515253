//! What the Solve panel shows of a run: its phase, each sample's decode and verdict, and the choice.

use unmask_solve::job::Outcome;
use unmask_solve::{Choice, Example};

use crate::run::RunView;

/// Where a Solve run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolvePhase {
    Decoding,
    Judging,
    Done,
    Error,
}

impl SolvePhase {
    /// The `data-state` of the Solve panel's status line.
    pub fn id(self) -> &'static str {
        match self {
            SolvePhase::Decoding => "decoding",
            SolvePhase::Judging => "judging",
            SolvePhase::Done => "done",
            SolvePhase::Error => "error",
        }
    }
}

/// One sample of a Solve run.
#[derive(Clone, Debug)]
pub struct Sample {
    pub seed: u64,
    /// Its decode, as the main view shows a run.
    pub run: RunView,
    /// What the sandbox runs: the prompt (holes filled) and the function's body, without what the model wrote
    /// after it.
    pub program: String,
    /// The sandbox's verdict, once judged.
    pub outcome: Option<Outcome>,
}

/// Everything the Solve panel shows.
#[derive(Clone, Debug)]
pub struct SolveView {
    pub id: u64,
    pub prompt: String,
    pub phase: SolvePhase,
    pub message: String,
    pub examples: Vec<Example>,
    pub probes: usize,
    pub samples: Vec<Sample>,
    pub choice: Option<Choice>,
    /// The sample shown in the main view.
    pub opened: usize,
    /// Time of the batched decode and of the judging, in ms.
    pub decode_ms: f64,
    pub judge_ms: f64,
}

impl SolveView {
    pub(super) fn new(
        id: u64,
        prompt: String,
        examples: Vec<Example>,
        probes: usize,
        samples: Vec<Sample>,
    ) -> SolveView {
        SolveView {
            id,
            prompt,
            phase: SolvePhase::Decoding,
            message: String::new(),
            examples,
            probes,
            samples,
            choice: None,
            opened: 0,
            decode_ms: 0.0,
            judge_ms: 0.0,
        }
    }

    /// A Solve run that could not start, saying why.
    pub(super) fn failed(id: u64, message: String) -> SolveView {
        SolveView { phase: SolvePhase::Error, message, ..SolveView::new(id, String::new(), Vec::new(), 0, Vec::new()) }
    }

    /// The run as JSON, sample by sample with the fields of `unmask solve --json`'s samples (and the program the
    /// sandbox ran), for the download button and the page's tests.
    pub fn report(&self) -> serde_json::Value {
        let choice = self.choice.clone().unwrap_or_default();
        let samples: Vec<serde_json::Value> = self
            .samples
            .iter()
            .enumerate()
            .map(|(index, x)| {
                let o = x.outcome.clone().unwrap_or_default();
                serde_json::json!({
                    "index": index,
                    "seed": x.seed,
                    "completion": x.run.trace.as_ref().map(|t| t.completion.clone()),
                    "program": x.program,
                    "judged": x.outcome.is_some(),
                    "parses": o.parses,
                    "examples_passed": o.examples.iter().filter(|e| e.passed).count(),
                    "examples_total": self.examples.len(),
                    "error": o.error,
                    "detail": o.detail,
                    "cluster": choice.group_of.get(index).copied().flatten(),
                    "steps": x.run.steps.len(),
                })
            })
            .collect();
        serde_json::json!({
            "prompt": self.prompt,
            "phase": self.phase.id(),
            "examples": self.examples.iter().map(|e| serde_json::json!({"call": e.call, "expected": e.expected})).collect::<Vec<_>>(),
            "probes": self.probes,
            "samples": samples,
            "clusters": choice.groups,
            "chosen": choice.chosen,
            "decode_ms": self.decode_ms,
            "judge_ms": self.judge_ms,
        })
    }

    /// Samples that parsed / passed every example, among those judged so far.
    pub fn counts(&self) -> (usize, usize) {
        let judged = || self.samples.iter().filter_map(|s| s.outcome.as_ref());
        (judged().filter(|o| o.parses).count(), judged().filter(|o| o.passed()).count())
    }
}
