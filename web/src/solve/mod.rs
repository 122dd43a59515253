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
use unmask_solve::{Example, choose, entry_point, examples, program, variants};

use crate::run::{EncodedPrompt, Model, RunStatus, RunView, now_ms, ready_engine, step};
use crate::sandbox::page_sandbox;
use crate::settings::{Settings, page_context};
use crate::state::{RunState, ViewState};

pub mod view;
pub use view::{Sample, SolvePhase, SolveView};

/// Wall time one candidate may run in the sandbox (Python's start-up is not counted).
pub const SAMPLE_LIMIT: Duration = Duration::from_secs(2);
/// Inputs derived from the examples, to tell the survivors apart (as the CLI).
const PROBES: usize = 16;

/// Opens sample `index` of the Solve run in the main view: followed live while decoding, replayed from the
/// first step once it is done.
pub fn open_sample(state: RunState, display: ViewState, index: usize) {
    let Some(run) =
        state.solve.with_untracked(|s| s.as_ref().and_then(|s| s.samples.get(index)).map(|s| s.run.clone()))
    else {
        return;
    };
    state.solve.update(|s| {
        if let Some(s) = s {
            s.opened = index;
        }
    });
    let done = run.status == RunStatus::Done;
    state.run.set(run);
    display.follow.set(!done);
    if done {
        display.shown.set(0);
        display.playing.set(true);
    }
}

/// Runs `settings` in Solve mode on `model` as run `id`, publishing into the page's state while
/// `state.current_run` still says `id`: decode every sample, judge each, open the chosen one.
pub async fn solve(model: Rc<Model>, settings: Settings, id: u64, state: RunState, display: ViewState) {
    let live = move || state.current_run.get_untracked() == id;
    let (job, mut batch) = match Job::start(&model, &settings) {
        Ok(started) => started,
        Err(message) => {
            state.solve.set(Some(SolveView::failed(id, message.clone())));
            state.run.set(RunView { id, ..RunView::idle(RunStatus::Error, message) });
            return;
        }
    };
    let engine = model.engines.active();
    let samples = batch
        .decodes()
        .iter()
        .zip(&job.configs)
        .map(|(d, c)| Sample {
            seed: c.seed,
            run: RunView::starting(id, &job.prompt, d.canvas().to_vec(), engine),
            program: String::new(),
            outcome: None,
        })
        .collect();
    let view = SolveView::new(id, settings.prompt.clone(), job.stated.clone(), job.probes.len(), samples);
    state.solve.set(Some(view));
    state.run.set(RunView::starting(id, &job.prompt, batch.decodes()[0].canvas().to_vec(), engine));
    if !ready_engine(&model, &live, state.run, state.notice).await {
        return;
    }
    let outcome = async {
        let Some(decode_ms) = job.decode(&mut batch, &model, &live, state).await? else { return Ok(None) };
        job.finish(batch, &model, &settings, state, decode_ms);
        job.judge(&live, state).await
    };
    match outcome.await {
        Ok(Some(chosen)) => open_sample(state, display, chosen),
        Ok(None) => {}
        Err(message) if live() => {
            state.solve.update(|s| {
                if let Some(s) = s {
                    s.phase = SolvePhase::Error;
                    s.message = message.clone();
                }
            });
            state.run.update(|r| {
                r.status = RunStatus::Error;
                r.message = message;
            });
        }
        Err(_) => {}
    }
}

/// A Solve run's inputs (its batched decode is beside it). Each phase returns `Ok(None)` when a newer run took over and
/// `Err` with what to tell the user when it failed.
struct Job {
    prompt: EncodedPrompt,
    /// The docstring's examples, and inputs derived from them to tell the survivors apart.
    stated: Vec<Example>,
    probes: Vec<String>,
    configs: Vec<SamplerConfig>,
}

impl Job {
    fn start(model: &Model, settings: &Settings) -> Result<(Job, BatchDecode), String> {
        if settings.prompt.trim().is_empty() {
            return Err("The prompt is empty: write a function signature and a docstring with examples.".into());
        }
        let prompt = model.prompt_style.encode(&model.tokenizer, &settings.prompt)?;
        let stated = examples(&settings.prompt);
        let calls: Vec<&str> = stated.iter().map(|e| e.call.as_str()).collect();
        let probes = entry_point(&settings.prompt).map(|name| variants(&calls, &name, PROBES)).unwrap_or_default();
        let base = settings.run_config();
        let configs: Vec<SamplerConfig> = (0..settings.samples as u64)
            .map(|i| SamplerConfig { seed: base.seed.wrapping_add(i), ..base.clone() })
            .collect();
        let (mask, context) = (model.config.mask_token_id, page_context(&model.config));
        let prompts: Vec<(&[u32], &SamplerConfig)> = configs.iter().map(|c| (&prompt.ids[..], c)).collect();
        let batch = BatchDecode::new(&prompts, mask, &model.end_tokens, context).map_err(|e| e.to_string())?;
        Ok((Job { prompt, stated, probes, configs }, batch))
    }

    /// Each step, one forward pass over every sample still running; the decode's milliseconds.
    async fn decode(
        &self,
        batch: &mut BatchDecode,
        model: &Model,
        live: &impl Fn() -> bool,
        state: RunState,
    ) -> Result<Option<f64>, String> {
        let decode_started = now_ms();
        while let Some(asking) = batch.request() {
            let started = now_ms();
            let (who, items): (Vec<usize>, Vec<BatchItem>) = asking.into_iter().unzip();
            let answers = if items.is_empty() {
                Vec::new()
            } else {
                match step(&model.engines, &items, live, state.run, state.notice).await? {
                    Some(answers) => answers,
                    None => return Ok(None),
                }
            };
            let proposals = answers.iter().map(|one| one.iter().map(|s| s.proposal).collect()).collect();
            let stepped = batch.advance(proposals, now_ms() - started).map_err(|e| e.to_string())?;
            // Each sample's proposals (none for one that asked for none), for its cells' candidates.
            let mut scored: Vec<Vec<Scored>> = vec![Vec::new(); batch.decodes().len()];
            for (i, one) in who.into_iter().zip(answers) {
                scored[i] = one;
            }
            let steps = stepped.into_iter().map(|i| {
                let step = batch.decodes()[i].steps().last().expect("a step was just recorded").clone();
                (i, step, std::mem::take(&mut scored[i]))
            });
            publish_steps(state, steps.collect());
            gloo_timers::future::TimeoutFuture::new(0).await;
            if !live() {
                return Ok(None);
            }
        }
        Ok(Some(now_ms() - decode_started))
    }

    /// Each finished sample's trace and the program the sandbox will run.
    fn finish(&self, batch: BatchDecode, model: &Model, settings: &Settings, state: RunState, decode_ms: f64) {
        let (n, mask) = (self.prompt.ids.len(), model.config.mask_token_id);
        for (i, decoded) in batch.finish().into_iter().enumerate() {
            let texts = decoded.texts(n, mask, |t| model.is_end(t), &model.tokenizer).unwrap_or_default();
            // An infilling prompt runs with its holes filled; a chat answer's code ends at its fence.
            let (before, answer) = texts.program_parts(&self.prompt.prompt);
            let program = program(&before, &answer);
            let completion = texts.completion;
            let trace =
                decoded.into_trace(model.name.clone(), settings.prompt.clone(), &self.configs[i], mask, n, completion);
            state.solve.update(|s| {
                if let Some(sample) = s.as_mut().and_then(|s| s.samples.get_mut(i)) {
                    sample.program = program;
                    sample.run.status = RunStatus::Done;
                    sample.run.trace = Some(trace);
                }
            });
        }
        state.solve.update(|s| {
            if let Some(s) = s {
                s.phase = SolvePhase::Judging;
                s.decode_ms = decode_ms;
            }
        });
    }

    /// Every sample against the examples, one at a time, in the sandbox's worker; the chosen sample.
    async fn judge(&self, live: &impl Fn() -> bool, state: RunState) -> Result<Option<usize>, String> {
        let judge_started = now_ms();
        let sandbox = page_sandbox();
        let mut outcomes = Vec::new();
        for i in 0..self.configs.len() {
            let program =
                state.solve.with_untracked(|s| s.as_ref().map(|s| s.samples[i].program.clone())).unwrap_or_default();
            let outcome = sandbox.run(&program, &self.stated, &self.probes, SAMPLE_LIMIT).await;
            if !live() {
                return Ok(None);
            }
            let outcome = outcome.map_err(|why| format!("the sandbox could not run the samples: {why}"))?;
            outcomes.push(outcome.clone());
            state.solve.update(|s| {
                if let Some(s) = s {
                    s.samples[i].outcome = Some(outcome);
                }
            });
        }
        let choice = choose(&outcomes, 1);
        let chosen = choice.chosen.first().copied().unwrap_or(0);
        state.solve.update(|s| {
            if let Some(s) = s {
                s.phase = SolvePhase::Done;
                s.judge_ms = now_ms() - judge_started;
                s.choice = Some(choice);
            }
        });
        Ok(Some(chosen))
    }
}

/// Records one step of each sample that took it, and shows the opened sample's in the main view.
fn publish_steps(state: RunState, stepped: Vec<(usize, TraceStep, Vec<Scored>)>) {
    let mut opened_run = None;
    state.solve.update(|s| {
        let Some(s) = s else { return };
        for (i, step, scored) in stepped {
            s.samples[i].run.record(step, &scored);
            if i == s.opened {
                opened_run = Some(s.samples[i].run.clone());
            }
        }
    });
    if let Some(run) = opened_run {
        state.run.set(run);
    }
}
