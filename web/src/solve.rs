//! A Solve run (AlphaCode's sample → filter → cluster, on the page): N samples of the prompt, with seeds from
//! the seed setting up, decode together, one forward pass over all of them per step; then each completion runs
//! against the docstring's examples in the Pyodide sandbox, the survivors are grouped by their outputs on inputs
//! derived from the examples, and the first sample of the largest group is opened in the main view and
//! replayed. The choice is `unmask_solve::choose`, the one the CLI's `unmask solve` makes.

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use unmask_model::TraceStep;
use unmask_sampler::{BatchDecode, BatchItem, SamplerConfig, Scored};
use unmask_solve::job::Outcome;
use unmask_solve::{Choice, Example, choose, entry_point, examples, program, variants};

use crate::app::Ctx;
use crate::run::{Model, RunStatus, RunView, now_ms, ready_engine, step};
use crate::sandbox::page_sandbox;
use crate::settings::Settings;

/// Wall time one candidate may run in the sandbox (Python's start-up is not counted).
pub const SAMPLE_LIMIT: Duration = Duration::from_secs(2);
/// Inputs derived from the examples, to tell the survivors apart (as the CLI).
const PROBES: usize = 16;

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
    fn new(id: u64, prompt: String, examples: Vec<Example>, probes: usize, samples: Vec<Sample>) -> SolveView {
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
    fn failed(id: u64, message: String) -> SolveView {
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

/// Opens sample `index` of the Solve run in the main view: followed live while decoding, replayed from the
/// first step once it is done.
pub fn open_sample(ctx: Ctx, index: usize) {
    let Some(run) = ctx.solve.with_untracked(|s| s.as_ref().and_then(|s| s.samples.get(index)).map(|s| s.run.clone()))
    else {
        return;
    };
    ctx.solve.update(|s| {
        if let Some(s) = s {
            s.opened = index;
        }
    });
    let done = run.status == RunStatus::Done;
    ctx.run.set(run);
    ctx.follow.set(!done);
    if done {
        ctx.shown.set(0);
        ctx.playing.set(true);
    }
}

/// Runs `settings` in Solve mode on `model` as run `id`, publishing into the context while `ctx.current_run`
/// still says `id`.
pub async fn solve(model: Rc<Model>, settings: Settings, id: u64, ctx: Ctx) {
    let live = move || ctx.current_run.get_untracked() == id;
    let fail = move |message: String| {
        if live() {
            ctx.solve.update(|s| {
                if let Some(s) = s {
                    s.phase = SolvePhase::Error;
                    s.message = message.clone();
                }
            });
            ctx.run.update(|r| {
                r.status = RunStatus::Error;
                r.message = message;
            });
        }
    };
    let start_failed = move |message: String| {
        ctx.solve.set(Some(SolveView::failed(id, message.clone())));
        ctx.run.set(RunView { id, ..RunView::idle(RunStatus::Error, message) });
    };
    if settings.prompt.trim().is_empty() {
        return start_failed("The prompt is empty: write a function signature and a docstring with examples.".into());
    }
    let prompt_ids = match model.tokenizer.encode(&settings.prompt) {
        Ok(ids) => ids,
        Err(e) => return start_failed(format!("cannot tokenize the prompt: {e}")),
    };
    let stated = examples(&settings.prompt);
    let calls: Vec<&str> = stated.iter().map(|e| e.call.as_str()).collect();
    let probes = entry_point(&settings.prompt).map(|name| variants(&calls, &name, PROBES)).unwrap_or_default();
    let base = settings.run_config();
    let configs: Vec<SamplerConfig> = (0..settings.samples as u64)
        .map(|i| SamplerConfig { seed: base.seed.wrapping_add(i), ..base.clone() })
        .collect();
    let (mask, context) = (model.config.mask_token_id, model.config.max_position_embeddings);
    let prompts: Vec<(&[u32], &SamplerConfig)> = configs.iter().map(|c| (&prompt_ids[..], c)).collect();
    let mut batch = match BatchDecode::new(&prompts, mask, &model.config.end_token_ids(), context) {
        Ok(batch) => batch,
        Err(e) => return start_failed(e.to_string()),
    };
    let engine = model.engines.active();
    let samples = batch
        .decodes()
        .iter()
        .zip(&configs)
        .map(|(d, c)| Sample {
            seed: c.seed,
            run: RunView::starting(id, prompt_ids.len(), d.canvas().to_vec(), engine),
            program: String::new(),
            outcome: None,
        })
        .collect();
    ctx.solve.set(Some(SolveView::new(id, settings.prompt.clone(), stated.clone(), probes.len(), samples)));
    ctx.run.set(RunView::starting(id, prompt_ids.len(), batch.decodes()[0].canvas().to_vec(), engine));
    if !ready_engine(&model, &live, ctx.run, ctx.notice).await {
        return;
    }

    // Decode: each step, one forward pass over every sample still running.
    let decode_started = now_ms();
    while let Some(asking) = batch.request() {
        let started = now_ms();
        let (who, items): (Vec<usize>, Vec<BatchItem>) = asking.into_iter().unzip();
        let answers = if items.is_empty() {
            Vec::new()
        } else {
            match step(&model.engines, &items, &live, ctx.run, ctx.notice).await {
                Ok(Some(answers)) => answers,
                Ok(None) => return,
                Err(message) => return fail(message),
            }
        };
        let proposals = answers.iter().map(|one| one.iter().map(|s| s.proposal).collect()).collect();
        let stepped = match batch.advance(proposals, now_ms() - started) {
            Ok(stepped) => stepped,
            Err(e) => return fail(e.to_string()),
        };
        // Each sample's proposals (none for one that asked for none), for its cells' candidates.
        let mut scored: Vec<Vec<Scored>> = vec![Vec::new(); batch.decodes().len()];
        for (i, one) in who.into_iter().zip(answers) {
            scored[i] = one;
        }
        let steps = stepped.into_iter().map(|i| {
            let step = batch.decodes()[i].steps().last().expect("a step was just recorded").clone();
            (i, step, std::mem::take(&mut scored[i]))
        });
        publish_steps(ctx, steps.collect());
        gloo_timers::future::TimeoutFuture::new(0).await;
        if !live() {
            return;
        }
    }
    let decode_ms = now_ms() - decode_started;
    for (i, decoded) in batch.finish().into_iter().enumerate() {
        let n = prompt_ids.len();
        let range = decoded.completion_range(n, mask, |t| model.is_end(t));
        let text = |tokens: &[u32]| model.tokenizer.decode(tokens).unwrap_or_default();
        let completion = text(&decoded.tokens[range.clone()]);
        // An infilling prompt runs with its holes filled.
        let filled = if prompt_ids.contains(&mask) { text(&decoded.tokens[..n]) } else { settings.prompt.clone() };
        let program = program(&filled, &text(&decoded.tokens[n..range.end]));
        let trace = decoded.into_trace(
            model.name.clone(),
            settings.prompt.clone(),
            &configs[i],
            mask,
            prompt_ids.len(),
            completion,
        );
        ctx.solve.update(|s| {
            if let Some(sample) = s.as_mut().and_then(|s| s.samples.get_mut(i)) {
                sample.program = program;
                sample.run.status = RunStatus::Done;
                sample.run.trace = Some(trace);
            }
        });
    }
    ctx.solve.update(|s| {
        if let Some(s) = s {
            s.phase = SolvePhase::Judging;
            s.decode_ms = decode_ms;
        }
    });

    // Judge: every sample against the examples, one at a time, in the sandbox's worker.
    let judge_started = now_ms();
    let sandbox = page_sandbox();
    let mut outcomes = Vec::new();
    for i in 0..settings.samples as usize {
        let program =
            ctx.solve.with_untracked(|s| s.as_ref().map(|s| s.samples[i].program.clone())).unwrap_or_default();
        let outcome = sandbox.run(&program, &stated, &probes, SAMPLE_LIMIT).await;
        if !live() {
            return;
        }
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(why) => return fail(format!("the sandbox could not run the samples: {why}")),
        };
        outcomes.push(outcome.clone());
        ctx.solve.update(|s| {
            if let Some(s) = s {
                s.samples[i].outcome = Some(outcome);
            }
        });
    }
    let choice = choose(&outcomes, 1);
    let chosen = choice.chosen.first().copied().unwrap_or(0);
    ctx.solve.update(|s| {
        if let Some(s) = s {
            s.phase = SolvePhase::Done;
            s.judge_ms = now_ms() - judge_started;
            s.choice = Some(choice);
        }
    });
    open_sample(ctx, chosen);
}

/// Records one step of each sample that took it, and shows the opened sample's in the main view.
fn publish_steps(ctx: Ctx, stepped: Vec<(usize, TraceStep, Vec<Scored>)>) {
    let mut opened_run = None;
    ctx.solve.update(|s| {
        let Some(s) = s else { return };
        for (i, step, scored) in stepped {
            s.samples[i].run.record(step, &scored);
            if i == s.opened {
                opened_run = Some(s.samples[i].run.clone());
            }
        }
    });
    if let Some(run) = opened_run {
        ctx.run.set(run);
    }
}
