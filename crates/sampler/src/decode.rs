//! The decode loop of every algorithm (SAMPLING.md §4–§7). Each algorithm decides, step by step, which
//! positions to ask the backend about and which of the proposals to commit; everything else — the canvas,
//! the step counter that keys the randomness, timing, the observer and the trace — is shared in [`Session`].

use std::ops::{ControlFlow, Range};

use unmask_model::trace::{Proposal, Trace, TraceStep};

use crate::params::{Algorithm, DreamAlg, Remasking, SamplerConfig};
use crate::proposal::{ProposalRule, ScoreKind, TokenDraw};
use crate::rng::{Purpose, StepKey};
use crate::{Denoiser, SamplerError, metrics};

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
    /// The canvas at the end: no mask left.
    pub tokens: Vec<u32>,
    pub steps: Vec<TraceStep>,
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

/// Decodes `prompt` (plus `config.max_new_tokens` masks) to completion.
pub fn generate<D: Denoiser + ?Sized>(
    backend: &mut D,
    prompt: &[u32],
    config: &SamplerConfig,
    observer: &mut dyn Observer,
) -> Result<Decoded, SamplerError> {
    config.validate()?;
    let mask = backend.mask_token_id();
    let canvas = initial_canvas(prompt, config.max_new_tokens, mask);
    let context = backend.max_len();
    if canvas.len() > context {
        return Err(SamplerError::ContextOverflow {
            prompt: prompt.len(),
            new_tokens: config.max_new_tokens as usize,
            context,
        });
    }
    if !canvas.contains(&mask) {
        return Err(SamplerError::NothingToDecode);
    }
    let mut session = Session { backend, observer, config, mask, initial: canvas.clone(), canvas, steps: Vec::new() };
    match config.algorithm {
        Algorithm::Dream => session.dream()?,
        Algorithm::Llada => session.llada()?,
        Algorithm::Threshold => session.threshold()?,
        Algorithm::LeftToRight => session.left_to_right()?,
    }
    debug_assert!(!session.canvas.contains(&mask));
    Ok(Decoded { initial: session.initial, tokens: session.canvas, steps: session.steps })
}

struct Session<'a, D: ?Sized> {
    backend: &'a mut D,
    observer: &'a mut dyn Observer,
    config: &'a SamplerConfig,
    mask: u32,
    initial: Vec<u32>,
    canvas: Vec<u32>,
    steps: Vec<TraceStep>,
}

impl<D: Denoiser + ?Sized> Session<'_, D> {
    /// The randomness key of the step about to run: the global step index, counted across blocks.
    fn key(&self) -> StepKey {
        StepKey { seed: self.config.seed, step: self.steps.len() as u32 }
    }

    fn masked_in(&self, range: std::ops::Range<usize>) -> Vec<u32> {
        range.filter(|&q| self.canvas[q] == self.mask).map(|q| q as u32).collect()
    }

    fn masked(&self) -> Vec<u32> {
        self.masked_in(0..self.canvas.len())
    }

    /// Dream's token draw, shared by Dream, threshold and left-to-right decoding.
    fn sample_rule(&self, score: ScoreKind) -> ProposalRule {
        let c = self.config;
        ProposalRule {
            draw: TokenDraw::Sample { temperature: c.temperature, top_p: c.top_p, top_k: c.top_k },
            score,
            mask_token: self.mask,
        }
    }

    fn propose(&mut self, positions: &[u32], rule: &ProposalRule) -> Result<Vec<Proposal>, SamplerError> {
        let key = self.key();
        let proposals = self.backend.propose(&self.canvas, positions, rule, key).map_err(SamplerError::Backend)?;
        if proposals.len() != positions.len() || proposals.iter().zip(positions).any(|(p, &q)| p.position != q) {
            return Err(SamplerError::Backend("backend returned proposals for other positions than asked".into()));
        }
        Ok(proposals)
    }

    /// Applies `commits`, records the step and tells the observer.
    fn commit(&mut self, mut commits: Vec<Proposal>, masked_before: usize, started: f64) -> Result<(), SamplerError> {
        commits.sort_by_key(|c| c.position);
        for c in &commits {
            debug_assert_eq!(self.canvas[c.position as usize], self.mask, "committed twice");
            self.canvas[c.position as usize] = c.token;
        }
        let step = TraceStep {
            step: self.steps.len() as u32,
            masked_before: masked_before as u32,
            commits,
            millis: self.observer.now_millis() - started,
        };
        let flow = self.observer.on_step(&self.canvas, &step);
        self.steps.push(step);
        match flow {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(SamplerError::Cancelled),
        }
    }

    fn dream(&mut self) -> Result<(), SamplerError> {
        let c = self.config;
        let n_steps = c.steps;
        let timestep = |k: u32| 1.0 + (c.eps - 1.0) * k as f64 / n_steps as f64;
        let score = match c.alg {
            DreamAlg::Origin | DreamAlg::MaskgitPlus => ScoreKind::Probability,
            DreamAlg::TopkMargin => ScoreKind::Margin,
            DreamAlg::Entropy => ScoreKind::NegEntropy,
        };
        let rule = self.sample_rule(score);
        for i in 0..n_steps {
            let started = self.observer.now_millis();
            let masked = self.masked();
            if masked.is_empty() {
                self.commit(Vec::new(), 0, started)?;
                continue;
            }
            let last = i == n_steps - 1;
            let commit_fraction = 1.0 - timestep(i + 1) / timestep(i);
            let proposals = self.propose(&masked, &rule)?;
            let key = self.key();
            let commits = if c.alg == DreamAlg::Origin {
                proposals
                    .into_iter()
                    .filter(|p| last || key.uniform(p.position, Purpose::Transfer, 0) < commit_fraction)
                    .collect()
            } else {
                let n = masked.len();
                let k = if last { n } else { (n as f64 * commit_fraction).floor() as usize };
                let alg_temp = c.alg_temp as f64;
                best_k(proposals, k, |p| {
                    if alg_temp > 0.0 {
                        p.score as f64 / alg_temp + key.gumbel(p.position, Purpose::Position, 0)
                    } else {
                        p.score as f64
                    }
                })
            };
            self.commit(commits, masked.len(), started)?;
        }
        Ok(())
    }

    /// The blocks of `block_length` positions from the first mask on that hold a mask (§5).
    fn blocks(&self) -> Vec<std::ops::Range<usize>> {
        let first = self.canvas.iter().position(|&t| t == self.mask).unwrap_or(self.canvas.len());
        let length = self.config.block_length as usize;
        (first..self.canvas.len())
            .step_by(length)
            .map(|start| start..(start + length).min(self.canvas.len()))
            .filter(|block| self.canvas[block.clone()].contains(&self.mask))
            .collect()
    }

    fn llada(&mut self) -> Result<(), SamplerError> {
        let c = self.config;
        let blocks = self.blocks();
        let n_blocks = blocks.len() as u32;
        if c.steps < n_blocks {
            return Err(SamplerError::InvalidParam {
                name: "steps",
                value: c.steps.to_string(),
                range: format!("steps ≥ {n_blocks}, the number of blocks of {} that hold masks", c.block_length),
            });
        }
        let rule = ProposalRule {
            draw: TokenDraw::Gumbel { temperature: c.temperature },
            score: match c.remasking {
                Remasking::LowConfidence => ScoreKind::Probability,
                Remasking::Random => ScoreKind::Random,
            },
            mask_token: self.mask,
        };
        for (j, block) in blocks.into_iter().enumerate() {
            let block_steps = (c.steps / n_blocks + u32::from((j as u32) < c.steps % n_blocks)) as usize;
            let masks_in_block = self.masked_in(block.clone()).len();
            for r in 0..block_steps {
                let started = self.observer.now_millis();
                let masked_before = self.masked().len();
                let k = masks_in_block / block_steps + usize::from(r < masks_in_block % block_steps);
                if k == 0 {
                    // Nothing to commit: skip the forward pass, keep the step (it keys the randomness).
                    self.commit(Vec::new(), masked_before, started)?;
                    continue;
                }
                let eligible = self.masked_in(block.clone());
                let proposals = self.propose(&eligible, &rule)?;
                let commits = best_k(proposals, k, |p| p.score as f64);
                self.commit(commits, masked_before, started)?;
            }
        }
        Ok(())
    }

    fn threshold(&mut self) -> Result<(), SamplerError> {
        let rule = self.sample_rule(ScoreKind::Probability);
        let threshold = self.config.threshold;
        for block in self.blocks() {
            loop {
                let eligible = self.masked_in(block.clone());
                if eligible.is_empty() {
                    break;
                }
                let started = self.observer.now_millis();
                let masked_before = self.masked().len();
                let proposals = self.propose(&eligible, &rule)?;
                let confident: Vec<Proposal> = proposals.iter().copied().filter(|p| p.score > threshold).collect();
                let commits = if confident.is_empty() { best_k(proposals, 1, |p| p.score as f64) } else { confident };
                self.commit(commits, masked_before, started)?;
            }
        }
        Ok(())
    }

    fn left_to_right(&mut self) -> Result<(), SamplerError> {
        let rule = self.sample_rule(ScoreKind::Probability);
        while let Some(&leftmost) = self.masked().first() {
            let started = self.observer.now_millis();
            let masked_before = self.masked().len();
            let commits = self.propose(&[leftmost], &rule)?;
            self.commit(commits, masked_before, started)?;
        }
        Ok(())
    }
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
    fn canvas_appends_masks_after_the_prompt() {
        assert_eq!(initial_canvas(&[7, 1, 8], 2, 1), vec![7, 1, 8, 1, 1]);
    }
}
