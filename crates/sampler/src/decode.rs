//! The decode loop of every algorithm (SAMPLING.md §4–§7), as a state machine that does no I/O: [`Decode`] says
//! which positions the next step needs proposals for ([`Decode::request`]) and, given them, commits the step
//! ([`Decode::advance`]). A blocking backend drives it through [`generate`]; the browser drives the same machine
//! from an async loop, one awaited forward pass per step, so the algorithms exist once for every backend.
//! [`BatchDecode`] steps several decodes together the same way ([`generate_batch`] and the page's Solve mode).

use std::ops::{ControlFlow, Range};

use unmask_model::Tokenizer;
use unmask_model::prompt::{Prompt, PromptFormat};
use unmask_model::trace::{Proposal, Trace, TraceStep};

use crate::params::{Algorithm, DreamAlg, Remasking, SamplerConfig};
use crate::proposal::{ProposalRule, ScoreKind, TokenDraw};
use crate::rng::{Purpose, StepKey};
use crate::{BatchItem, Denoiser, MAX_BATCH, SamplerError, metrics};

/// Watches a decode as it runs: gets each finished step, may stop the run, and supplies the clock (the
/// sampler itself has none, because `std::time::Instant` does not exist in the browser).
pub trait Observer {
    /// Milliseconds from an arbitrary origin.
    fn now_millis(&mut self) -> f64 {
        0.0
    }

    /// Called after every step with the canvas as it now is. `Break` cancels the decode.
    fn on_step(&mut self, _canvas: &[u32], _step: &TraceStep) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// An observer that watches nothing and has no clock.
pub struct Unobserved;
impl Observer for Unobserved {}

/// The result of a decode.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The canvas before the first step.
    pub initial: Vec<u32>,
    /// The canvas at the end: no mask left, except after the answer's end where `stop_at_end` stopped early.
    pub tokens: Vec<u32>,
    pub steps: Vec<TraceStep>,
}

/// What a user reads of a finished decode ([`Decoded::texts`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedTexts {
    /// [`Decoded::completion_range`] as text: the answer up to its end token, or the whole canvas from the start
    /// when the prompt had holes.
    pub completion: String,
    /// The prompt with its holes filled, when it had any.
    pub filled_prompt: Option<String>,
    /// What the model wrote after the prompt, up to its end token.
    pub answer: String,
}

impl DecodedTexts {
    /// The program a decode of `prompt` stands for, as the code before the answer and the answer's code: in
    /// bare the prompt (its holes filled) and the answer, in chat_opened the user's code and the answer up
    /// to its closing fence, in chat only the answer's first fenced block.
    pub fn program_parts(&self, prompt: &Prompt) -> (String, String) {
        let answer = prompt.code_of(&self.answer);
        let before = match (prompt.format, &self.filled_prompt) {
            (PromptFormat::Chat, _) => String::new(),
            (PromptFormat::Bare, Some(filled)) => filled.clone(),
            (PromptFormat::Bare | PromptFormat::ChatOpened, _) => prompt.code.clone(),
        };
        (before, answer)
    }
}

impl Decoded {
    /// The canvas range a user reads as the result: the answer after the prompt, cut before its first end
    /// token; when the prompt had holes, the whole canvas from the start (so the filled holes show).
    pub fn completion_range(&self, prompt_len: usize, mask_token: u32, is_end: impl Fn(u32) -> bool) -> Range<usize> {
        let start = if self.initial[..prompt_len].contains(&mask_token) { 0 } else { prompt_len };
        let answer = &self.tokens[prompt_len..];
        let end = prompt_len + answer.iter().position(|&t| is_end(t)).unwrap_or(answer.len());
        start..end
    }

    /// The texts a user reads of this decode, one tokenizer pass each: the CLI's output, the page's
    /// completion and the program Solve runs all come from here.
    pub fn texts(
        &self,
        prompt_len: usize,
        mask_token: u32,
        is_end: impl Fn(u32) -> bool,
        tokenizer: &Tokenizer,
    ) -> unmask_model::Result<DecodedTexts> {
        let range = self.completion_range(prompt_len, mask_token, is_end);
        let had_holes = self.initial[..prompt_len].contains(&mask_token);
        Ok(DecodedTexts {
            completion: tokenizer.decode(&self.tokens[range.clone()])?,
            filled_prompt: had_holes.then(|| tokenizer.decode(&self.tokens[..prompt_len])).transpose()?,
            answer: tokenizer.decode(&self.tokens[prompt_len..range.end])?,
        })
    }

    /// The trace of this decode.
    pub fn into_trace(
        self,
        model: String,
        prompt: String,
        config: &SamplerConfig,
        mask_token: u32,
        prompt_len: usize,
        completion: String,
    ) -> Trace {
        let ar_ness = metrics::ar_ness(&self.initial, mask_token, &self.steps);
        let total_millis = self.steps.iter().map(|s| s.millis).sum();
        Trace {
            model,
            prompt,
            params: serde_json::to_value(config).expect("SamplerConfig serialises"),
            mask_token_id: mask_token,
            prompt_len: prompt_len as u32,
            initial: self.initial,
            steps: self.steps,
            tokens: self.tokens,
            completion,
            ar_ness,
            total_millis,
        }
    }
}

/// `prompt` followed by `max_new_tokens` masks; masks inside the prompt are holes to fill.
pub fn initial_canvas(prompt: &[u32], max_new_tokens: u32, mask_token: u32) -> Vec<u32> {
    let mut canvas = prompt.to_vec();
    canvas.resize(prompt.len() + max_new_tokens as usize, mask_token);
    canvas
}

/// Decodes `prompt` (plus `config.max_new_tokens` masks) to completion on a blocking backend.
pub fn generate<D: Denoiser + ?Sized>(
    backend: &mut D,
    prompt: &[u32],
    config: &SamplerConfig,
    observer: &mut dyn Observer,
) -> Result<Decoded, SamplerError> {
    let mut decode = Decode::new(prompt, config, backend.mask_token_id(), &backend.end_token_ids(), backend.max_len())?;
    while let Some(request) = decode.request() {
        let started = observer.now_millis();
        let proposals = if request.positions.is_empty() {
            Vec::new()
        } else {
            backend
                .propose(decode.canvas_for(&request), &request.positions, &request.rule, request.key)
                .map_err(SamplerError::Backend)?
        };
        decode.advance(proposals, observer.now_millis() - started)?;
        let step = decode.steps().last().expect("a step was just recorded");
        if observer.on_step(decode.canvas(), step).is_break() {
            return Err(SamplerError::Cancelled);
        }
    }
    Ok(decode.finish())
}

/// Watches a batched decode: the clock, and each sample's finished steps.
pub trait BatchObserver {
    /// Milliseconds from an arbitrary origin.
    fn now_millis(&mut self) -> f64 {
        0.0
    }

    /// Called after every step of sample `sample` with its canvas as it now is. `Break` cancels the batch.
    fn on_step(&mut self, _sample: usize, _canvas: &[u32], _step: &TraceStep) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl BatchObserver for Unobserved {}

/// Decodes several samples together: one [`Decode`] per entry of `samples` (its prompt and its settings, its
/// own seed), and each step one [`Denoiser::propose_batch`] over every sample still running. Sample *i*'s
/// result is exactly what [`generate`] gives for it alone. A step's time is the batched pass's, recorded in
/// every sample that took part.
pub fn generate_batch<D: Denoiser + ?Sized>(
    backend: &mut D,
    samples: &[(&[u32], &SamplerConfig)],
    observer: &mut dyn BatchObserver,
) -> Result<Vec<Decoded>, SamplerError> {
    let mut batch = BatchDecode::new(samples, backend.mask_token_id(), &backend.end_token_ids(), backend.max_len())?;
    while let Some(asking) = batch.request() {
        let started = observer.now_millis();
        let items: Vec<BatchItem> = asking.into_iter().map(|(_, item)| item).collect();
        let answers = if items.is_empty() { Vec::new() } else { backend.propose_batch(&items)? };
        let millis = observer.now_millis() - started;
        for i in batch.advance(answers, millis)? {
            let decode = &batch.decodes()[i];
            if observer.on_step(i, decode.canvas(), decode.steps().last().expect("a step was just recorded")).is_break()
            {
                return Err(SamplerError::Cancelled);
            }
        }
    }
    Ok(batch.finish())
}

/// Several [`Decode`]s stepped together, as a state machine like `Decode` itself: [`request`](Self::request)
/// gives the canvases that need proposals this step (one batched forward pass), [`advance`](Self::advance)
/// commits every running sample's step. [`generate_batch`] drives it on a blocking backend, the page from an
/// async loop.
pub struct BatchDecode {
    decodes: Vec<Decode>,
    /// Each sample's request for the step `request` last described (`None`: that sample is done).
    pending: Vec<Option<Request>>,
}

impl BatchDecode {
    /// One decode per entry of `samples` (its prompt and its settings); 1 to [`MAX_BATCH`] samples.
    pub fn new(
        samples: &[(&[u32], &SamplerConfig)],
        mask: u32,
        end_tokens: &[u32],
        context: usize,
    ) -> Result<Self, SamplerError> {
        if samples.is_empty() || samples.len() > MAX_BATCH {
            return Err(SamplerError::invalid("batch", samples.len(), format!("1 to {MAX_BATCH} samples")));
        }
        let decodes = samples
            .iter()
            .map(|(prompt, config)| Decode::new(prompt, config, mask, end_tokens, context))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BatchDecode { decodes, pending: Vec::new() })
    }

    pub fn decodes(&self) -> &[Decode] {
        &self.decodes
    }

    /// The next step: each sample that needs proposals for it, with its canvas, positions, rule and key, in
    /// sample order (a running sample whose step commits nothing needs none); `None` once every sample is done.
    pub fn request(&mut self) -> Option<Vec<(usize, BatchItem<'_>)>> {
        self.pending = self.decodes.iter().map(Decode::request).collect();
        if self.pending.iter().all(Option::is_none) {
            return None;
        }
        let asking = self.pending.iter().enumerate().filter_map(|(i, request)| {
            let r = request.as_ref().filter(|r| !r.positions.is_empty())?;
            let canvas = self.decodes[i].canvas_for(r);
            Some((i, BatchItem { canvas, positions: &r.positions, rule: r.rule, key: r.key }))
        });
        Some(asking.collect())
    }

    /// Commits the step [`request`](Self::request) described: `answers` holds one list of proposals per item it
    /// gave, in its order. Returns the samples that took the step (every one still running), in order.
    pub fn advance(&mut self, answers: Vec<Vec<Proposal>>, millis: f64) -> Result<Vec<usize>, SamplerError> {
        let asking = self.pending.iter().flatten().filter(|r| !r.positions.is_empty()).count();
        if answers.len() != asking {
            return Err(SamplerError::OutOfOrder("the backend answered a different number of canvases"));
        }
        let mut answers = answers.into_iter();
        let mut stepped = Vec::new();
        for (i, request) in std::mem::take(&mut self.pending).into_iter().enumerate() {
            let Some(request) = request else { continue };
            let proposals = if request.positions.is_empty() { Vec::new() } else { answers.next().expect("counted") };
            self.decodes[i].advance(proposals, millis)?;
            stepped.push(i);
        }
        Ok(stepped)
    }

    pub fn finish(self) -> Vec<Decoded> {
        self.decodes.into_iter().map(Decode::finish).collect()
    }
}

/// What the next step needs from a backend: proposals for `positions` (masked, increasing) under `rule`,
/// randomness keyed by `key`, from a pass over the first `visible` positions of the canvas. Empty `positions`
/// means the step commits nothing and needs no forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub positions: Vec<u32>,
    pub rule: ProposalRule,
    pub key: StepKey,
    /// How much of the canvas the pass reads: all of it, except in threshold decoding with `verify_drafts`,
    /// where it ends with the block being drafted. The masks after that block tell the model nothing but
    /// their number, and checked drafts make the answer the model's left-to-right one whatever the drafts
    /// saw; leaving them out keeps a pass to the rows it decodes (blocks shorter than the attention's run
    /// fewer rows).
    pub visible: usize,
}

/// A LLaDA block: its canvas range, its share of the steps and how many masks it held when decoding began.
#[derive(Clone, Debug)]
struct Block {
    range: Range<usize>,
    first_step: u32,
    steps: u32,
    masks: usize,
}

/// What each algorithm fixes when the decode starts.
#[derive(Clone, Debug)]
enum Plan {
    Dream,
    Llada(Vec<Block>),
    Threshold(Vec<Range<usize>>),
    LeftToRight,
}

/// A decode in progress. Every step is [`request`](Decode::request) then [`advance`](Decode::advance); the
/// state between steps is the canvas and the steps so far, so a run can stop between any two steps.
#[derive(Clone, Debug)]
pub struct Decode {
    config: SamplerConfig,
    mask: u32,
    /// The tokens that end the answer when `stop_at_end` is set; empty otherwise.
    stop_tokens: Vec<u32>,
    /// Where the answer starts: the canvas length before the appended masks.
    answer_start: usize,
    initial: Vec<u32>,
    canvas: Vec<u32>,
    steps: Vec<TraceStep>,
    rule: ProposalRule,
    plan: Plan,
    /// With `verify_drafts`: positions before this one are final (given, or checked against the model's own
    /// left-to-right prediction); answer positions from it on that hold a token are drafts.
    checked: usize,
}

impl Decode {
    /// Checks the parameters and the length against the model's context, and lays out the canvas.
    /// `end_tokens` are the model's (end of text, padding), used only with `stop_at_end`.
    pub fn new(
        prompt: &[u32],
        config: &SamplerConfig,
        mask: u32,
        end_tokens: &[u32],
        context: usize,
    ) -> Result<Self, SamplerError> {
        config.validate()?;
        SamplerError::check_context(prompt.len(), config.max_new_tokens, context)?;
        let canvas = initial_canvas(prompt, config.max_new_tokens, mask);
        if !canvas.contains(&mask) {
            return Err(SamplerError::NothingToDecode);
        }
        let c = config;
        let sample = |score| ProposalRule {
            draw: TokenDraw::Sample { temperature: c.temperature, top_p: c.top_p, top_k: c.top_k },
            score,
            mask_token: mask,
        };
        let (rule, plan) = match c.algorithm {
            Algorithm::Dream => {
                let score = match c.alg {
                    DreamAlg::Origin | DreamAlg::MaskgitPlus => ScoreKind::Probability,
                    DreamAlg::TopkMargin => ScoreKind::Margin,
                    DreamAlg::Entropy => ScoreKind::NegEntropy,
                };
                (sample(score), Plan::Dream)
            }
            Algorithm::Llada => {
                let rule = ProposalRule {
                    draw: TokenDraw::Gumbel { temperature: c.temperature },
                    score: match c.remasking {
                        Remasking::LowConfidence => ScoreKind::Probability,
                        Remasking::Random => ScoreKind::Random,
                    },
                    mask_token: mask,
                };
                (rule, Plan::Llada(llada_blocks(&canvas, mask, c)?))
            }
            Algorithm::Threshold => {
                (sample(ScoreKind::Probability), Plan::Threshold(blocks(&canvas, mask, c.block_length, c.align_blocks)))
            }
            Algorithm::LeftToRight => (sample(ScoreKind::Probability), Plan::LeftToRight),
        };
        let stop_tokens = if config.stop_at_end { end_tokens.to_vec() } else { Vec::new() };
        Ok(Decode {
            config: config.clone(),
            mask,
            stop_tokens,
            answer_start: prompt.len(),
            initial: canvas.clone(),
            canvas,
            steps: Vec::new(),
            rule,
            plan,
            checked: 0,
        })
    }

    /// The canvas as it is now.
    pub fn canvas(&self) -> &[u32] {
        &self.canvas
    }

    /// The part of the canvas the pass for `request` reads (its first [`Request::visible`] positions).
    pub fn canvas_for(&self, request: &Request) -> &[u32] {
        &self.canvas[..request.visible]
    }

    /// The steps taken so far.
    pub fn steps(&self) -> &[TraceStep] {
        &self.steps
    }

    /// What the next step needs, or `None` when the decode is finished.
    pub fn request(&self) -> Option<Request> {
        if self.answer_ended() {
            return None;
        }
        let step = self.steps.len() as u32;
        let mut visible = self.canvas.len();
        let positions = match &self.plan {
            Plan::Dream => (step < self.config.steps).then(|| self.masked_in(0..self.canvas.len()))?,
            Plan::Llada(blocks) => {
                let (block, k) = llada_step(blocks, step)?;
                if k == 0 { Vec::new() } else { self.masked_in(block.range.clone()) }
            }
            Plan::Threshold(blocks) => {
                let block = blocks.iter().find(|&b| self.canvas[b.clone()].contains(&self.mask));
                let masked = block.map(|b| self.masked_in(b.clone()));
                if !self.drafts() {
                    masked?
                } else {
                    visible = block.map_or(visible, |b| b.end);
                    // The drafts up to the first mask (checked in order this pass), then the block's masks.
                    let first_mask = masked.as_ref().map_or(self.canvas.len(), |m| m[0] as usize);
                    let mut positions = self.drafts_in(self.checked..first_mask);
                    positions.extend(masked.unwrap_or_default());
                    if positions.is_empty() {
                        return None;
                    }
                    positions
                }
            }
            Plan::LeftToRight => vec![self.canvas.iter().position(|&t| t == self.mask)? as u32],
        };
        Some(Request { positions, rule: self.rule, key: self.key(), visible })
    }

    /// Commits the step [`request`](Decode::request) described, given the backend's proposals for its
    /// positions (in order) and the milliseconds the step took.
    pub fn advance(&mut self, proposals: Vec<Proposal>, millis: f64) -> Result<(), SamplerError> {
        let Some(request) = self.request() else {
            return Err(SamplerError::OutOfOrder("the decode is already finished"));
        };
        if proposals.len() != request.positions.len()
            || proposals.iter().zip(&request.positions).any(|(p, &q)| p.position != q)
        {
            return Err(SamplerError::OutOfOrder("proposals for other positions than asked"));
        }
        let step = self.steps.len() as u32;
        if let Some(bad) = proposals.iter().find(|p| p.score.is_nan()) {
            return Err(SamplerError::NonFinite { step, position: bad.position });
        }
        let masked_before = self.canvas.iter().filter(|&&t| t == self.mask).count();
        let key = request.key;
        let mut commits = match &self.plan {
            Plan::Dream => {
                let c = &self.config;
                let timestep = |k: u32| 1.0 + (c.eps - 1.0) * k as f64 / c.steps as f64;
                let last = step == c.steps - 1;
                let commit_fraction = 1.0 - timestep(step + 1) / timestep(step);
                if c.alg == DreamAlg::Origin {
                    proposals
                        .into_iter()
                        .filter(|p| last || key.uniform(p.position, Purpose::Transfer, 0) < commit_fraction)
                        .collect()
                } else {
                    let n = proposals.len();
                    let k = if last { n } else { (n as f64 * commit_fraction).floor() as usize };
                    let alg_temp = c.alg_temp as f64;
                    best_k(proposals, k, |p| {
                        if alg_temp > 0.0 {
                            p.score as f64 / alg_temp + key.gumbel(p.position, Purpose::Position, 0)
                        } else {
                            p.score as f64
                        }
                    })
                }
            }
            Plan::Llada(blocks) => {
                let (_, k) = llada_step(blocks, step).expect("request() found this step");
                best_k(proposals, k, |p| p.score as f64)
            }
            Plan::Threshold(_) if self.drafts() => self.check_drafts(proposals),
            Plan::Threshold(_) => {
                let threshold = self.config.threshold;
                // Proposals come in position order: the first is the block's leftmost mask.
                let leftmost = self.config.commit_leftmost;
                let confident: Vec<Proposal> = proposals
                    .iter()
                    .enumerate()
                    .filter(|(i, p)| p.score > threshold || (leftmost && *i == 0))
                    .map(|(_, p)| *p)
                    .collect();
                if confident.is_empty() { best_k(proposals, 1, |p| p.score as f64) } else { confident }
            }
            Plan::LeftToRight => proposals,
        };
        commits.sort_by_key(|c| c.position);
        for c in &commits {
            // Only a checked draft's correction writes over a token.
            debug_assert!(self.canvas[c.position as usize] == self.mask || self.drafts(), "committed twice");
            self.canvas[c.position as usize] = c.token;
        }
        self.steps.push(TraceStep { step, masked_before: masked_before as u32, commits, millis });
        Ok(())
    }

    /// Whether `stop_at_end` has stopped this decode: the answer's first end token is committed and no mask is
    /// left before it. Commits are final and the answer is read up to its first end token, so no later step
    /// could change the text (SAMPLING.md §10).
    pub fn answer_ended(&self) -> bool {
        let answer = &self.canvas[self.answer_start..];
        let Some(end) = answer.iter().position(|t| self.stop_tokens.contains(t)) else { return false };
        let end = self.answer_start + end;
        // A draft end may still be corrected: with `verify_drafts` the end itself must be checked.
        !self.canvas[..end].contains(&self.mask) && (!self.drafts() || self.checked > end)
    }

    /// Whether commits beyond the leftmost mask are drafts to check: `verify_drafts` in threshold decoding, the
    /// one algorithm that commits ahead of the leftmost mask and checks. Elsewhere the setting means nothing
    /// (a model recommending it may still be decoded left to right).
    fn drafts(&self) -> bool {
        self.config.verify_drafts && matches!(self.plan, Plan::Threshold(_))
    }

    /// The finished decode. Call once [`request`](Decode::request) says `None`.
    pub fn finish(self) -> Decoded {
        debug_assert!(!self.canvas.contains(&self.mask) || self.answer_ended(), "finished with masks left");
        Decoded { initial: self.initial, tokens: self.canvas, steps: self.steps }
    }

    /// The randomness key of the step about to run: the global step index, counted across blocks.
    fn key(&self) -> StepKey {
        StepKey { seed: self.config.seed, step: self.steps.len() as u32 }
    }

    fn masked_in(&self, range: Range<usize>) -> Vec<u32> {
        range.filter(|&q| self.canvas[q] == self.mask).map(|q| q as u32).collect()
    }

    /// The drafts in `range`: positions that were masks and hold a token.
    fn drafts_in(&self, range: Range<usize>) -> Vec<u32> {
        range.filter(|&q| self.initial[q] == self.mask && self.canvas[q] != self.mask).map(|q| q as u32).collect()
    }

    /// Threshold decoding with `verify_drafts`: `proposals` are for the drafts before the first mask, then for
    /// the block's masks. Each draft's proposal is the model's prediction from the text before it; while they
    /// agree the checked prefix grows. At the first disagreement the prediction replaces the draft and the pass
    /// ends there (what follows was predicted from the wrong token). Otherwise the leftmost mask, predicted
    /// from checked text, is committed as checked, and every other mask above the threshold as a draft.
    fn check_drafts(&mut self, proposals: Vec<Proposal>) -> Vec<Proposal> {
        let first_mask = self.canvas.iter().skip(self.checked).position(|&t| t == self.mask).map(|i| self.checked + i);
        let first_mask = first_mask.unwrap_or(self.canvas.len());
        let (drafts, masks): (Vec<Proposal>, Vec<Proposal>) =
            proposals.into_iter().partition(|p| (p.position as usize) < first_mask);
        for p in drafts {
            let at = p.position as usize;
            self.checked = at + 1;
            if p.token != self.canvas[at] {
                return vec![p];
            }
        }
        self.checked = first_mask;
        let Some((leftmost, rest)) = masks.split_first() else { return Vec::new() };
        self.checked = leftmost.position as usize + 1;
        let threshold = self.config.threshold;
        std::iter::once(*leftmost).chain(rest.iter().filter(|p| p.score > threshold).copied()).collect()
    }
}

/// The blocks of `length` positions from the first mask on that hold a mask (§5). Aligned, they start at
/// multiples of `length` instead, the first one cut at the first mask.
fn blocks(canvas: &[u32], mask: u32, length: u32, aligned: bool) -> Vec<Range<usize>> {
    let length = length as usize;
    let first = canvas.iter().position(|&t| t == mask).unwrap_or(canvas.len());
    let origin = if aligned { first / length * length } else { first };
    (origin..canvas.len())
        .step_by(length)
        .map(|start| start.max(first)..(start + length).min(canvas.len()))
        .filter(|block| canvas[block.clone()].contains(&mask))
        .collect()
}

/// LLaDA's split of the steps over the blocks: the first `steps % n` blocks get one step more (§5). Blocks do
/// not overlap and a step commits only inside its block, so each block's mask count is known at the start.
fn llada_blocks(canvas: &[u32], mask: u32, c: &SamplerConfig) -> Result<Vec<Block>, SamplerError> {
    let ranges = blocks(canvas, mask, c.block_length, c.align_blocks);
    let n_blocks = ranges.len() as u32;
    if c.steps < n_blocks {
        return Err(SamplerError::InvalidParam {
            name: "steps",
            value: c.steps.to_string(),
            range: format!("steps ≥ {n_blocks}, the number of blocks of {} that hold masks", c.block_length),
        });
    }
    let mut first_step = 0;
    Ok(ranges
        .into_iter()
        .enumerate()
        .map(|(j, range)| {
            let steps = c.steps / n_blocks + u32::from((j as u32) < c.steps % n_blocks);
            let masks = canvas[range.clone()].iter().filter(|&&t| t == mask).count();
            let block = Block { range, first_step, steps, masks };
            first_step += steps;
            block
        })
        .collect())
}

/// The block LLaDA's global `step` falls in, and how many positions that step commits (0: the step only keeps
/// its place in the randomness, with no forward pass).
fn llada_step(blocks: &[Block], step: u32) -> Option<(&Block, usize)> {
    let block = blocks.iter().find(|b| (b.first_step..b.first_step + b.steps).contains(&step))?;
    let round = (step - block.first_step) as usize;
    let per_round = block.steps as usize;
    Some((block, block.masks / per_round + usize::from(round < block.masks % per_round)))
}

/// The `k` proposals with the highest `key`, ties broken by lower position.
fn best_k(mut proposals: Vec<Proposal>, k: usize, key: impl Fn(&Proposal) -> f64) -> Vec<Proposal> {
    let mut keyed: Vec<(f64, Proposal)> = proposals.drain(..).map(|p| (key(&p), p)).collect();
    keyed.sort_by(|(ka, a), (kb, b)| kb.total_cmp(ka).then(a.position.cmp(&b.position)));
    keyed.into_iter().take(k).map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(position: u32, score: f32) -> Proposal {
        Proposal { position, token: 0, score }
    }

    #[test]
    fn best_k_breaks_ties_by_position() {
        let chosen = best_k(vec![p(5, 0.5), p(2, 0.9), p(3, 0.5), p(1, 0.1)], 2, |p| p.score as f64);
        assert_eq!(chosen.iter().map(|p| p.position).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn completion_is_the_answer_up_to_the_end_token_or_the_whole_canvas_with_holes() {
        let decoded = Decoded { initial: vec![5, 6, 1, 1, 1], tokens: vec![5, 6, 7, 0, 9], steps: vec![] };
        assert_eq!(decoded.completion_range(2, 1, |t| t == 0), 2..3);
        let with_hole = Decoded { initial: vec![5, 1, 6, 1], tokens: vec![5, 8, 6, 9], steps: vec![] };
        assert_eq!(with_hole.completion_range(3, 1, |t| t == 0), 0..4);
    }

    #[test]
    fn aligned_blocks_start_at_multiples_of_the_length() {
        let canvas = [7, 7, 7, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(blocks(&canvas, 1, 4, false), vec![3..7, 7..10]);
        assert_eq!(blocks(&canvas, 1, 4, true), vec![3..4, 4..8, 8..10]);
        // A prompt ending on a boundary gives the same blocks either way.
        assert_eq!(blocks(&canvas[1..], 1, 2, true), vec![2..4, 4..6, 6..8, 8..9]);
        assert_eq!(blocks(&canvas[1..], 1, 2, false), vec![2..4, 4..6, 6..8, 8..9]);
    }

    #[test]
    fn a_nan_proposal_stops_the_decode_naming_step_and_position() {
        let config = SamplerConfig { max_new_tokens: 2, steps: 2, ..SamplerConfig::DEFAULT };
        let mut decode = Decode::new(&[5], &config, 1, &[], 16).unwrap();
        let request = decode.request().unwrap();
        let proposals = request.positions.iter().map(|&q| p(q, if q == 2 { f32::NAN } else { 0.5 })).collect();
        assert_eq!(decode.advance(proposals, 0.0), Err(SamplerError::NonFinite { step: 0, position: 2 }));
        assert_eq!(decode.steps().len(), 0, "nothing was committed");
    }

    /// Drives a decode to its end with a scripted model: token `token(q)` at position `q`, score `score(q)`.
    fn run_scripted(decode: &mut Decode, token: impl Fn(u32) -> u32, score: impl Fn(u32) -> f32) {
        while let Some(request) = decode.request() {
            let proposals =
                request.positions.iter().map(|&q| Proposal { position: q, token: token(q), score: score(q) }).collect();
            decode.advance(proposals, 0.0).unwrap();
        }
    }

    /// `verify_drafts` against a scripted mask-gated model whose greedy answer is `answer`: a token row's
    /// prediction (a draft's check, or the leftmost mask after checked text) is the answer's next token when
    /// everything before it is the answer, garbage otherwise; a mask row's guess is `draft(q)`. However wrong
    /// the drafts, the decode ends with exactly the answer; right drafts save passes.
    #[test]
    fn verified_drafts_give_exactly_the_models_own_left_to_right_answer() {
        let (prompt, mask, end) = ([5u32, 6], 1u32, 0u32);
        let answer: Vec<u32> = vec![10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0];
        let n = prompt.len();
        let run = |draft: &dyn Fn(u32) -> u32, threshold: f32| {
            let config = SamplerConfig {
                algorithm: Algorithm::Threshold,
                max_new_tokens: 14,
                block_length: 4,
                threshold,
                temperature: 0.0,
                verify_drafts: true,
                stop_at_end: true,
                ..SamplerConfig::DEFAULT
            };
            let mut decode = Decode::new(&prompt, &config, mask, &[end], 32).unwrap();
            while let Some(request) = decode.request() {
                let canvas = decode.canvas().to_vec();
                let proposals = request
                    .positions
                    .iter()
                    .map(|&q| {
                        let at = q as usize;
                        let before_is_answer = canvas[n..at].iter().zip(&answer).all(|(a, b)| a == b);
                        let from_token_row = at == n || canvas[at - 1] != mask;
                        let token = match (from_token_row && before_is_answer, canvas[at] == mask) {
                            (true, _) => answer.get(at - n).copied().unwrap_or(end),
                            (false, true) => draft(q),
                            (false, false) => 99,
                        };
                        Proposal { position: q, token, score: 0.95 }
                    })
                    .collect();
                decode.advance(proposals, 0.0).unwrap();
            }
            decode
        };
        let finished = |d: &Decode| d.canvas()[n..n + answer.len()].to_vec();
        // Every draft right: one pass checks the previous pass's drafts and drafts the rest of a block.
        let right = run(&|q| answer.get(q as usize - n).copied().unwrap_or(end), 0.9);
        assert_eq!(finished(&right), answer);
        assert!(right.steps().len() < answer.len() / 2, "{} passes", right.steps().len());
        // Every draft wrong: each is corrected, still exactly the answer, in no more passes than tokens.
        let wrong = run(&|_| 42, 0.9);
        assert_eq!(finished(&wrong), answer);
        assert!(wrong.steps().len() <= answer.len(), "{} passes", wrong.steps().len());
        assert!(wrong.steps().iter().flat_map(|s| &s.commits).any(|c| c.token != 42 && c.position as usize > n + 1));
        // Some wrong (every third): exact again, and the trace's decode order lists each position once.
        let some = run(&|q| if q % 3 == 0 { 42 } else { answer.get(q as usize - n).copied().unwrap_or(end) }, 0.9);
        assert_eq!(finished(&some), answer);
        let order = crate::metrics::decode_order(some.steps());
        let mut unique = order.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), order.len());
        // Drafting nothing (threshold above every score) is left to right: one checked token per pass.
        let none = run(&|_| 42, 1.0);
        assert_eq!(finished(&none), answer);
        assert_eq!(none.steps().len(), answer.len());
    }

    /// With checked drafts a pass reads the canvas up to the end of the block it drafts in; without, all of it.
    #[test]
    fn a_checked_draft_pass_reads_the_canvas_up_to_its_blocks_end() {
        let config = SamplerConfig {
            algorithm: Algorithm::Threshold,
            max_new_tokens: 10,
            block_length: 4,
            align_blocks: true,
            threshold: 0.5,
            temperature: 0.0,
            verify_drafts: true,
            ..SamplerConfig::DEFAULT
        };
        // Prompt of 3: aligned blocks are 3..4, 4..8, 8..12, 12..13.
        let mut d = Decode::new(&[5, 6, 7], &config, 1, &[0], 32).unwrap();
        let visible_each_pass: Vec<usize> = std::iter::from_fn(|| {
            let request = d.request()?;
            assert!(request.positions.iter().all(|&q| (q as usize) < request.visible));
            // Sure of nothing: one checked token a pass.
            let proposals = request.positions.iter().map(|&q| Proposal { position: q, token: 9, score: 0.1 }).collect();
            d.advance(proposals, 0.0).unwrap();
            Some(request.visible)
        })
        .collect();
        assert_eq!(visible_each_pass, vec![4, 8, 8, 8, 8, 12, 12, 12, 12, 13]);
        let unchecked = SamplerConfig { verify_drafts: false, ..config };
        let d = Decode::new(&[5, 6, 7], &unchecked, 1, &[0], 32).unwrap();
        assert_eq!(d.request().unwrap().visible, 13);
    }

    #[test]
    fn commit_leftmost_adds_the_blocks_leftmost_mask_to_the_confident_ones() {
        // Prompt [5, 6], one block of 6 cells; positions 4 and 6 are sure (0.95), the rest unsure (0.3).
        let config = SamplerConfig {
            algorithm: Algorithm::Threshold,
            max_new_tokens: 6,
            block_length: 6,
            threshold: 0.9,
            ..SamplerConfig::DEFAULT
        };
        let score = |q: u32| if q == 4 || q == 6 { 0.95 } else { 0.3 };
        let first_step = |config: &SamplerConfig| {
            let mut d = Decode::new(&[5, 6], config, 1, &[0], 16).unwrap();
            let request = d.request().unwrap();
            let proposals =
                request.positions.iter().map(|&q| Proposal { position: q, token: 7, score: score(q) }).collect();
            d.advance(proposals, 0.0).unwrap();
            d.steps()[0].commits.iter().map(|c| c.position).collect::<Vec<_>>()
        };
        assert_eq!(first_step(&config), vec![4, 6]);
        assert_eq!(first_step(&SamplerConfig { commit_leftmost: true, ..config.clone() }), vec![2, 4, 6]);
        // To the end: one step per unsure cell (2, 3, 5, 7), the sure ones ride along with the first.
        let mut d = Decode::new(&[5, 6], &SamplerConfig { commit_leftmost: true, ..config }, 1, &[0], 16).unwrap();
        run_scripted(&mut d, |_| 7, score);
        assert_eq!(d.steps().len(), 4);
    }

    #[test]
    fn stop_at_end_stops_once_nothing_before_the_first_end_is_masked() {
        // Prompt [5, 6], 8 answer cells, LLaDA over two blocks of 4 with 4 steps each (one commit per step); the
        // model writes 7 at positions 2–3 and the end token 0 from position 4 on.
        let config = SamplerConfig {
            algorithm: Algorithm::Llada,
            steps: 8,
            max_new_tokens: 8,
            block_length: 4,
            top_p: 1.0,
            ..SamplerConfig::DEFAULT
        };
        let token = |q: u32| if q >= 4 { 0 } else { 7 };
        let stopping = SamplerConfig { stop_at_end: true, ..config.clone() };
        let decode = |config: &SamplerConfig, order: fn(u32) -> f32| {
            let mut d = Decode::new(&[5, 6], config, 1, &[0], 16).unwrap();
            run_scripted(&mut d, token, order);
            d
        };
        let full = |order| decode(&config, order);
        let stopped = |order| decode(&stopping, order);
        // Left to right: the end lands at position 4 on step 2 with nothing masked before it.
        let left_first: fn(u32) -> f32 = |q| 1.0 - q as f32 / 100.0;
        let (f, s) = (full(left_first), stopped(left_first));
        assert_eq!((f.steps().len(), s.steps().len()), (8, 3));
        assert_eq!(s.canvas(), &[5, 6, 7, 7, 0, 1, 1, 1, 1, 1]);
        // Right to left inside each block: the end at 5 comes first but 2–4 are still masked, so the decode
        // goes on to the end of the first block.
        let right_first: fn(u32) -> f32 = |q| q as f32 / 100.0;
        let (f, s) = (full(right_first), stopped(right_first));
        assert_eq!(s.steps().len(), 4);
        assert_eq!(s.canvas(), &[5, 6, 7, 7, 0, 0, 1, 1, 1, 1]);
        // Either way the answer reads the same as the full decode's, and the steps taken are the same steps.
        let range = |d: Decode| d.finish().completion_range(2, 1, |t| t == 0);
        assert_eq!(range(s.clone()), range(f.clone()));
        assert_eq!(s.steps(), &f.steps()[..4]);
        // Without end tokens (a model that has none) nothing stops early.
        let mut no_ends = Decode::new(&[5, 6], &stopping, 1, &[], 16).unwrap();
        run_scripted(&mut no_ends, token, left_first);
        assert_eq!(no_ends.steps().len(), 8);
        // Left to right under settings that verify drafts (a mask-gated model's recommendation, its algorithm
        // changed): it drafts nothing, so nothing waits for a check and it stops at the end as well.
        let left_to_right = SamplerConfig { algorithm: Algorithm::LeftToRight, verify_drafts: true, ..stopping };
        let mut d = Decode::new(&[5, 6], &left_to_right, 1, &[0], 16).unwrap();
        run_scripted(&mut d, token, left_first);
        assert_eq!(d.canvas(), &[5, 6, 7, 7, 0, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn canvas_appends_masks_after_the_prompt() {
        assert_eq!(initial_canvas(&[7, 1, 8], 2, 1), vec![7, 1, 8, 1, 1]);
    }
}
