//! One run: the sampler's [`Decode`] state machine driven from an async loop, one awaited forward pass per
//! step, each finished step published to the page. A run is identified by a number; starting another bumps
//! it, and a run that finds itself superseded after an await stops without publishing anything, so no frame
//! of an old run ever reaches the screen.

use std::rc::Rc;

use leptos::prelude::*;
use unmask_model::prompt::{ChatTemplate, Prompt, PromptFormat};
use unmask_model::{ModelConfig, Tokenizer, Trace, TraceStep};
use unmask_sampler::{BatchItem, Decode, Decoded, SamplerConfig, Scored};

use crate::engine::{EngineKind, Engines};
use crate::settings::{Settings, page_context};

/// A loaded model, ready to run.
pub struct Model {
    pub name: String,
    pub config: ModelConfig,
    /// Where the model's files are (its directory's URL): WebGPU chosen after the load reads the weights again
    /// from there (the cache), as the page keeps no copy.
    pub source: String,
    pub tokenizer: Tokenizer,
    /// Each token id's text, decoded once at load.
    pub token_text: Vec<String>,
    pub engines: Rc<Engines>,
    /// Download size of the weights, for the badge.
    pub weight_bytes: u64,
    pub quant: String,
    pub parameters: u64,
    pub prompt_style: PromptStyle,
    /// The tokens that end an answer in the prompt format (a chat_opened answer ends at its closing fence).
    pub end_tokens: Vec<u32>,
}

impl Model {
    pub fn is_end(&self, token: u32) -> bool {
        self.end_tokens.contains(&token)
    }
}

/// How the user's code becomes what the model reads: the format the model recommends, in its chat template.
#[derive(Clone, Debug)]
pub struct PromptStyle {
    pub format: PromptFormat,
    pub template: Option<ChatTemplate>,
}

/// The user's code as the model reads it.
pub struct EncodedPrompt {
    pub prompt: Prompt,
    pub ids: Vec<u32>,
    /// Leading tokens that are the format's markup (a chat template's turns), which the grid leaves out.
    pub markup_tokens: usize,
}

impl PromptStyle {
    /// The style for a model with `template` that recommends `recommended` (see [`PromptFormat::or_default`]);
    /// a chat format the template cannot render falls back to bare, with the reason.
    pub fn new(recommended: Option<PromptFormat>, template: Option<ChatTemplate>) -> (PromptStyle, Option<String>) {
        let format = PromptFormat::or_default(recommended, template.as_ref());
        if format != PromptFormat::Bare && template.is_none() {
            let why =
                format!("the model asks for the {} prompt format but has no chat template; using bare", format.name());
            return (PromptStyle { format: PromptFormat::Bare, template }, Some(why));
        }
        (PromptStyle { format, template }, None)
    }

    /// `code` in this style, encoded; a prompt already in chat markup is used as it is.
    pub fn encode(&self, tokenizer: &Tokenizer, code: &str) -> Result<EncodedPrompt, String> {
        let prompt =
            Prompt::new(self.format.for_text(code), self.template.as_ref(), code).map_err(|e| e.to_string())?;
        let cannot = |e: unmask_model::ModelError| format!("cannot tokenize the prompt: {e}");
        let ids = tokenizer.encode(&prompt.text).map_err(cannot)?;
        let markup_tokens = prompt.markup_tokens(tokenizer, &ids).map_err(cannot)?;
        Ok(EncodedPrompt { prompt, ids, markup_tokens })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Loading,
    Running,
    Done,
    Error,
}

impl RunStatus {
    /// The `data-state` the page's status element carries.
    pub fn id(self) -> &'static str {
        match self {
            RunStatus::Loading => "loading",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Error => "error",
        }
    }
}

/// Everything the page shows about the current run.
#[derive(Clone, Debug)]
pub struct RunView {
    pub id: u64,
    pub status: RunStatus,
    pub message: String,
    pub prompt_len: usize,
    /// Leading positions the grid leaves out: the prompt format's markup.
    pub shown_from: usize,
    /// The canvas before the first step.
    pub initial: Vec<u32>,
    /// The canvas after the newest step.
    pub tokens: Vec<u32>,
    /// For each canvas position, the step that decoded it.
    pub decoded_at: Vec<Option<u32>>,
    /// For each decoded position, the proposal committed there and the candidates weighed.
    pub scored: Vec<Option<Scored>>,
    pub steps: Vec<TraceStep>,
    pub engine: Option<EngineKind>,
    /// The finished decode as the CLI writes it, for the download button.
    pub trace: Option<Trace>,
}

impl RunView {
    pub fn idle(status: RunStatus, message: impl Into<String>) -> RunView {
        RunView {
            id: 0,
            status,
            message: message.into(),
            prompt_len: 0,
            shown_from: 0,
            initial: Vec::new(),
            tokens: Vec::new(),
            decoded_at: Vec::new(),
            scored: Vec::new(),
            steps: Vec::new(),
            engine: None,
            trace: None,
        }
    }

    /// Run `id` of `prompt` before its first step, over the canvas `initial`.
    pub fn starting(id: u64, prompt: &EncodedPrompt, initial: Vec<u32>, engine: EngineKind) -> RunView {
        let n = initial.len();
        RunView {
            id,
            status: RunStatus::Running,
            message: String::new(),
            prompt_len: prompt.ids.len(),
            shown_from: prompt.markup_tokens,
            decoded_at: vec![None; n],
            scored: vec![None; n],
            tokens: initial.clone(),
            initial,
            steps: Vec::new(),
            engine: Some(engine),
            trace: None,
        }
    }

    /// A new run was asked for while this one's pass may still be in flight: the cells go back to the canvas
    /// before the first step at once (the new run takes over when the engine is free), so what the grid shows
    /// is never the cancelled run's answer.
    pub fn restart(&mut self, message: impl Into<String>) {
        let n = self.initial.len();
        self.status = RunStatus::Running;
        self.message = message.into();
        self.tokens.clone_from(&self.initial);
        self.decoded_at = vec![None; n];
        self.scored = vec![None; n];
        self.steps.clear();
        self.trace = None;
    }

    /// Records a finished step: its commits, and what was proposed at each committed position.
    pub fn record(&mut self, step: TraceStep, scored: &[Scored]) {
        for commit in &step.commits {
            let q = commit.position as usize;
            self.tokens[q] = commit.token;
            // A corrected draft (verify_drafts) keeps the step it first appeared at.
            self.decoded_at[q].get_or_insert(step.step);
            self.scored[q] = scored.iter().find(|s| s.proposal.position == commit.position).cloned();
        }
        self.steps.push(step);
    }

    /// The token at `position` as it stood after `shown` steps (None: still masked, which a cell never decoded
    /// stays: not yet, or never when the decode stopped at the answer's end).
    pub fn token_at(&self, position: usize, shown: usize, mask: u32) -> Option<u32> {
        match self.decoded_at.get(position)? {
            Some(step) if (*step as usize) < shown => Some(self.tokens[position]),
            Some(_) => None,
            None => Some(self.initial[position]).filter(|&t| t != mask),
        }
    }

    /// Masked positions after the newest step.
    pub fn masked_left(&self) -> usize {
        // Positions, not commits: a corrected draft is committed twice.
        let decoded = self.decoded_at.iter().filter(|at| at.is_some()).count();
        self.steps.first().map_or(0, |s| s.masked_before as usize).saturating_sub(decoded)
    }

    /// Answer tokens written after the newest step: decoded positions after the prompt, up to and including
    /// the first end token (a corrected draft counts once; drafts past the end do not count).
    pub fn answer_tokens(&self, mask: u32, is_end: impl Fn(u32) -> bool) -> usize {
        let shown = self.steps.len();
        let mut written = 0;
        for q in self.prompt_len..self.initial.len() {
            let Some(token) = self.token_at(q, shown, mask) else { continue };
            written += 1;
            if is_end(token) {
                break;
            }
        }
        written
    }

    /// Whether `position` was masked when the run began (an answer cell or a hole).
    pub fn was_masked(&self, position: usize, mask: u32) -> bool {
        self.initial.get(position) == Some(&mask)
    }
}

/// The page's clock.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Runs `settings` on `model` as run `id`, publishing into `view` while `current` still says `id`.
pub async fn run(
    model: Rc<Model>,
    settings: Settings,
    id: u64,
    // The page's own signal (read only here): a read-only handle made inside the restart effect would be
    // disposed when the effect runs again, while this run still awaits its step.
    current: RwSignal<u64>,
    view: RwSignal<RunView>,
    notice: RwSignal<Option<String>>,
) {
    let live = move || current.get_untracked() == id;
    let fail = move |message: String| {
        if live() {
            view.update(|v| {
                v.status = RunStatus::Error;
                v.message = message;
            });
        }
    };
    let config: SamplerConfig = settings.run_config();
    let (prompt, mut decode) = match start_decode(&model, &settings.prompt, &config) {
        Ok(started) => started,
        Err(message) => return view.set(RunView { id, ..RunView::idle(RunStatus::Error, message) }),
    };
    view.set(RunView::starting(id, &prompt, decode.canvas().to_vec(), model.engines.active()));
    if !ready_engine(&model, &live, view, notice).await {
        return;
    }
    loop {
        match advance(&model, &mut decode, &live, view, notice).await {
            Ok(Stepped::Step(step, scored)) => view.update(|v| v.record(step, &scored)),
            Ok(Stepped::Finished) => break,
            Ok(Stepped::Superseded) => return,
            Err(message) => return fail(message),
        }
        // Let the browser paint this step before the next forward pass starts.
        gloo_timers::future::TimeoutFuture::new(0).await;
        if !live() {
            return;
        }
    }
    let trace = finished_trace(&model, decode, &settings.prompt, &config, prompt.ids.len());
    view.update(|v| {
        v.status = RunStatus::Done;
        v.trace = Some(trace);
    });
}

/// The user's `code` as `model` reads it, and a decode of it with `config`; the error says what to fix.
pub fn start_decode(model: &Model, code: &str, config: &SamplerConfig) -> Result<(EncodedPrompt, Decode), String> {
    if code.trim().is_empty() {
        return Err("The prompt is empty: write a function signature and docstring for the model to complete.".into());
    }
    let prompt = model.prompt_style.encode(&model.tokenizer, code)?;
    let (mask, context) = (model.config.mask_token_id, page_context(&model.config));
    let decode = Decode::new(&prompt.ids, config, mask, &model.end_tokens, context).map_err(|e| e.to_string())?;
    Ok((prompt, decode))
}

/// What one call of [`advance`] did.
pub enum Stepped {
    /// A step: its commits and what was proposed at each position asked.
    Step(TraceStep, Vec<Scored>),
    /// Nothing was left to decode.
    Finished,
    /// A newer run took over while the pass ran.
    Superseded,
}

/// One step of `decode`: the forward pass it asks for on the active engine, and its commits.
pub async fn advance(
    model: &Model,
    decode: &mut Decode,
    live: &impl Fn() -> bool,
    view: RwSignal<RunView>,
    notice: RwSignal<Option<String>>,
) -> Result<Stepped, String> {
    let Some(request) = decode.request() else { return Ok(Stepped::Finished) };
    let started = now_ms();
    let mut scored = Vec::new();
    if !request.positions.is_empty() {
        let canvas = decode.canvas_for(&request);
        let item = BatchItem { canvas, positions: &request.positions, rule: request.rule, key: request.key };
        match step(&model.engines, &[item], live, view, notice).await? {
            Some(mut answers) => scored = answers.pop().expect("one canvas in, one out"),
            None => return Ok(Stepped::Superseded),
        }
    }
    let proposals = scored.iter().map(|s| s.proposal).collect();
    decode.advance(proposals, now_ms() - started).map_err(|e| e.to_string())?;
    let step = decode.steps().last().expect("a step was just recorded").clone();
    Ok(Stepped::Step(step, scored))
}

/// The trace of a finished decode of `code`, as the CLI writes it.
pub fn finished_trace(model: &Model, decode: Decode, code: &str, config: &SamplerConfig, prompt_len: usize) -> Trace {
    let mask = model.config.mask_token_id;
    let decoded: Decoded = decode.finish();
    let texts = decoded.texts(prompt_len, mask, |t| model.is_end(t), &model.tokenizer);
    let completion = texts.map(|t| t.completion).unwrap_or_default();
    decoded.into_trace(model.name.clone(), code.to_owned(), config, mask, prompt_len, completion)
}

/// Readies the active engine for a run: loads the model on WebGPU first if that is the choice and it is not
/// there yet, falling back to the CPU worker (with a notice) if it cannot. False: the run was superseded.
pub async fn ready_engine(
    model: &Model,
    live: &impl Fn() -> bool,
    view: RwSignal<RunView>,
    notice: RwSignal<Option<String>>,
) -> bool {
    let engines = &model.engines;
    if engines.active() == EngineKind::Gpu && !engines.gpu_loaded() {
        view.update(|v| v.message = "loading the model on WebGPU (building its pipelines)…".into());
        let loaded = match crate::loader::reload_weights(&model.source).await {
            Ok(weights) => engines.load_gpu(&model.config, &weights).await,
            Err(why) => Err(why),
        };
        if !live() {
            return false;
        }
        if let Err(why) = loaded {
            let reason = format!("WebGPU cannot run the model ({why}); the CPU worker runs it");
            engines.set_active(EngineKind::Cpu, reason.clone());
            notice.set(Some(reason));
        }
        view.update(|v| v.engine = Some(engines.active()));
    }
    true
}

/// One step of `items` on the active engine. When the GPU is lost during it, the page says so and the same
/// step runs again on the CPU worker (a decode is deterministic, so nothing is lost). `Ok(None)`: the run was
/// superseded while it waited.
pub async fn step(
    engines: &Engines,
    items: &[BatchItem<'_>],
    live: &impl Fn() -> bool,
    view: RwSignal<RunView>,
    notice: RwSignal<Option<String>>,
) -> Result<Option<Vec<Vec<Scored>>>, String> {
    loop {
        let result = engines.propose_batch(items).await;
        if !live() {
            return Ok(None);
        }
        match result {
            Ok(answers) => return Ok(Some(answers)),
            Err(e) if e.device_lost() && engines.active() == EngineKind::Gpu && engines.cpu.is_some() => {
                let reason = format!("WebGPU failed during a run ({e}); switched to the CPU worker");
                engines.mark_gpu_lost(&e.to_string());
                engines.set_active(EngineKind::Cpu, reason.clone());
                notice.set(Some(reason));
                view.update(|v| v.engine = Some(EngineKind::Cpu));
            }
            Err(e) => return Err(format!("the model failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unmask_model::trace::Proposal;

    #[test]
    fn cells_never_decoded_read_as_masked() {
        // Prompt [5], answer cells 1 and 2 (mask 9); only cell 1 is decoded, at step 0.
        let prompt = EncodedPrompt {
            prompt: Prompt::new(PromptFormat::Bare, None, "").unwrap(),
            ids: vec![5],
            markup_tokens: 0,
        };
        let mut view = RunView::starting(1, &prompt, vec![5, 9, 9], EngineKind::Cpu);
        assert_eq!([0, 1, 2].map(|q| view.token_at(q, 0, 9)), [Some(5), None, None]);
        let commit = Proposal { position: 1, token: 7, score: 0.9 };
        view.record(TraceStep { step: 0, masked_before: 2, commits: vec![commit], millis: 1.0 }, &[]);
        assert_eq!([0, 1, 2].map(|q| view.token_at(q, 1, 9)), [Some(5), Some(7), None]);
        assert_eq!(view.token_at(1, 0, 9), None, "before its step the cell was masked");
        assert_eq!(view.masked_left(), 1);
        // A draft corrected at step 1 (verify_drafts) keeps its first step and unmasks nothing more.
        let correction = Proposal { position: 1, token: 8, score: 0.9 };
        view.record(TraceStep { step: 1, masked_before: 1, commits: vec![correction], millis: 1.0 }, &[]);
        assert_eq!((view.token_at(1, 2, 9), view.decoded_at[1], view.masked_left()), (Some(8), Some(0), 1));
        assert_eq!(view.answer_tokens(9, |t| t == 3), 1);
        // An end token at cell 1 and a draft after it: only the answer up to its end counts.
        let end = Proposal { position: 1, token: 3, score: 0.9 };
        let after = Proposal { position: 2, token: 7, score: 0.9 };
        view.record(TraceStep { step: 2, masked_before: 1, commits: vec![end, after], millis: 1.0 }, &[]);
        assert_eq!(view.answer_tokens(9, |t| t == 3), 1);
        assert_eq!(view.answer_tokens(9, |_| false), 2);
        // A restart shows the canvas before the first step again, all at once.
        view.restart("restarting");
        assert_eq!([0, 1, 2].map(|q| view.token_at(q, view.steps.len(), 9)), [Some(5), None, None]);
        assert!(view.decoded_at.iter().all(Option::is_none) && view.steps.is_empty() && view.trace.is_none());
        assert_eq!((view.status, view.message.as_str()), (RunStatus::Running, "restarting"));
    }
}
