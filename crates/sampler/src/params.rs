//! Decoding parameters: one flat struct, because the CLI flags, the page's sliders and the trace all map onto
//! it field by field. `validate` is the single place that knows the valid ranges.

use serde::{Deserialize, Serialize};

use crate::SamplerError;

/// Which family of decoding algorithm runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum), value(rename_all = "snake_case"))]
pub enum Algorithm {
    /// Dream / DiffuCoder: a timestep schedule over the whole answer (SAMPLING.md §4).
    Dream,
    /// LLaDA: semi-autoregressive blocks, a fixed number of commits per step (§5, §6).
    Llada,
    /// Fast-dLLM: commit every position above a confidence threshold, at least one (§7).
    Threshold,
    /// The autoregressive baseline: one token per step, leftmost first (§7).
    LeftToRight,
}

/// Dream's rule for which masked positions to commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum), value(rename_all = "snake_case"))]
pub enum DreamAlg {
    /// Random positions, each with probability `1 − s/t`.
    Origin,
    /// Highest probability of the drawn token.
    MaskgitPlus,
    /// Largest gap between the two most likely tokens.
    TopkMargin,
    /// Lowest entropy of the position's distribution.
    Entropy,
}

/// LLaDA's rule for which positions stay masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum), value(rename_all = "snake_case"))]
pub enum Remasking {
    LowConfidence,
    Random,
}

/// Every decoding parameter. Fields that an algorithm does not use are ignored by it (and recorded anyway).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplerConfig {
    pub algorithm: Algorithm,
    /// Dream only.
    pub alg: DreamAlg,
    /// LLaDA only.
    pub remasking: Remasking,
    /// Denoising steps (Dream, LLaDA). Threshold and left-to-right decide their own step count.
    pub steps: u32,
    /// Masked positions appended after the prompt (0 when the prompt's holes are all there is to fill).
    pub max_new_tokens: u32,
    /// Token sampling temperature; 0 = greedy.
    pub temperature: f32,
    /// Nucleus filtering (1 = off). Not used by LLaDA.
    pub top_p: f32,
    /// Keep the k most likely tokens (0 = off). Not used by LLaDA.
    pub top_k: u32,
    /// Randomness in Dream's choice of positions (0 = take the best scores).
    pub alg_temp: f32,
    /// Dream's final timestep.
    pub eps: f64,
    /// Block size of LLaDA and threshold decoding.
    pub block_length: u32,
    /// Start blocks at multiples of `block_length` counted from the canvas start instead of at the first mask,
    /// so they coincide with a block-causal model's attention blocks (its earlier blocks are then always
    /// finished when it writes one, as in its training).
    pub align_blocks: bool,
    /// Confidence above which threshold decoding commits a position.
    pub threshold: f32,
    /// Threshold decoding also commits the leftmost mask of its block every step, however unsure. With a
    /// mask-gated model that prediction is the base model's own next token, so the answer is never worse than
    /// the base model's greedy one; every confident commit beyond it is speed.
    pub commit_leftmost: bool,
    /// Threshold decoding treats what it commits beyond the leftmost mask as drafts and checks them, left to
    /// right, against the model's own next-token prediction from the checked text before them (a token row's,
    /// which a mask-gated model computes exactly as its base model): a draft that matches is kept, the first
    /// that does not is replaced by the prediction, and nothing after it is checked in that pass. The leftmost
    /// mask is committed from the same prediction once everything before it is checked. At temperature 0 the
    /// answer is then exactly the base model's greedy one, whatever the threshold; the threshold sets only how
    /// many drafts each pass makes.
    pub verify_drafts: bool,
    pub seed: u64,
    /// Stop once the answer can no longer change: an end token committed after the prompt with no mask before
    /// it (SAMPLING.md §10). The text is the one every step would give; the cells after the end stay masked.
    pub stop_at_end: bool,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl SamplerConfig {
    /// The defaults: Dream's entropy ordering at a low temperature, DiffuCoder's recommended style.
    pub const DEFAULT: SamplerConfig = SamplerConfig {
        algorithm: Algorithm::Dream,
        alg: DreamAlg::Entropy,
        remasking: Remasking::LowConfidence,
        steps: 32,
        max_new_tokens: 64,
        temperature: 0.2,
        top_p: 1.0,
        top_k: 0,
        alg_temp: 0.0,
        eps: 1e-3,
        block_length: 32,
        align_blocks: false,
        threshold: 0.9,
        commit_leftmost: false,
        verify_drafts: false,
        seed: 0,
        stop_at_end: false,
    };
}

/// Upper bounds that keep a slider or a typo from asking for hours of work.
pub const MAX_STEPS: u32 = 4096;
pub const MAX_TEMPERATURE: f32 = 10.0;

impl SamplerConfig {
    /// Checks every parameter the chosen algorithm uses; the error names the parameter and its valid range.
    pub fn validate(&self) -> Result<(), SamplerError> {
        let uses_blocks = matches!(self.algorithm, Algorithm::Llada | Algorithm::Threshold);
        let uses_steps = matches!(self.algorithm, Algorithm::Dream | Algorithm::Llada);
        if uses_steps {
            check("steps", self.steps, self.steps >= 1 && self.steps <= MAX_STEPS, "1 ≤ steps ≤ 4096")?;
        }
        check(
            "temperature",
            self.temperature,
            (0.0..=MAX_TEMPERATURE).contains(&self.temperature),
            "0 ≤ temperature ≤ 10 (0 = greedy)",
        )?;
        if self.algorithm == Algorithm::Llada {
            if self.top_p != 1.0 {
                return Err(SamplerError::invalid(
                    "top_p",
                    self.top_p,
                    "top_p = 1: llada draws tokens by Gumbel-max without nucleus filtering",
                ));
            }
            if self.top_k != 0 {
                return Err(SamplerError::invalid("top_k", self.top_k, "top_k = 0: llada does not filter tokens"));
            }
        } else {
            check("top_p", self.top_p, self.top_p > 0.0 && self.top_p <= 1.0, "0 < top_p ≤ 1 (1 = off)")?;
        }
        if self.algorithm == Algorithm::Dream {
            check("alg_temp", self.alg_temp, (0.0..=MAX_TEMPERATURE).contains(&self.alg_temp), "0 ≤ alg_temp ≤ 10")?;
            check("eps", self.eps, self.eps > 0.0 && self.eps < 1.0, "0 < eps < 1")?;
        }
        if uses_blocks {
            check(
                "block_length",
                self.block_length,
                self.block_length >= 1 && self.block_length <= MAX_STEPS,
                "1 ≤ block_length ≤ 4096",
            )?;
        }
        if self.algorithm == Algorithm::Threshold {
            check("threshold", self.threshold, self.threshold > 0.0 && self.threshold <= 1.0, "0 < threshold ≤ 1")?;
        }
        Ok(())
    }
}

/// `value` must satisfy `ok` (written as comparisons, which NaN never satisfies).
fn check(name: &'static str, value: impl std::fmt::Display, ok: bool, range: &'static str) -> Result<(), SamplerError> {
    if ok { Ok(()) } else { Err(SamplerError::invalid(name, value, range)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(config: SamplerConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_valid_for_every_algorithm() {
        for algorithm in [Algorithm::Dream, Algorithm::Threshold, Algorithm::LeftToRight] {
            SamplerConfig { algorithm, ..Default::default() }.validate().unwrap();
        }
        SamplerConfig { algorithm: Algorithm::Llada, ..Default::default() }.validate().unwrap();
    }

    #[test]
    fn out_of_range_values_name_parameter_and_range() {
        let e = error_of(SamplerConfig { temperature: -1.0, ..Default::default() });
        assert_eq!(e, "invalid temperature = -1: expected 0 ≤ temperature ≤ 10 (0 = greedy)");
        let e = error_of(SamplerConfig { temperature: f32::NAN, ..Default::default() });
        assert!(e.starts_with("invalid temperature = NaN"), "{e}");
        let e = error_of(SamplerConfig { steps: 0, ..Default::default() });
        assert_eq!(e, "invalid steps = 0: expected 1 ≤ steps ≤ 4096");
        let e = error_of(SamplerConfig { top_p: 0.0, ..Default::default() });
        assert_eq!(e, "invalid top_p = 0: expected 0 < top_p ≤ 1 (1 = off)");
        let e = error_of(SamplerConfig { eps: 1.0, ..Default::default() });
        assert_eq!(e, "invalid eps = 1: expected 0 < eps < 1");
        let e = error_of(SamplerConfig { algorithm: Algorithm::Threshold, threshold: 1.5, ..Default::default() });
        assert_eq!(e, "invalid threshold = 1.5: expected 0 < threshold ≤ 1");
        let e =
            error_of(SamplerConfig { algorithm: Algorithm::Llada, block_length: 0, top_p: 1.0, ..Default::default() });
        assert_eq!(e, "invalid block_length = 0: expected 1 ≤ block_length ≤ 4096");
        let e = error_of(SamplerConfig { algorithm: Algorithm::Llada, top_p: 0.9, ..Default::default() });
        assert!(e.starts_with("invalid top_p = 0.9"), "{e}");
    }

    #[test]
    fn serialises_with_snake_case_names() {
        let json = serde_json::to_value(SamplerConfig::default()).unwrap();
        assert_eq!(json["algorithm"], "dream");
        assert_eq!(json["alg"], "entropy");
        let back: SamplerConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, SamplerConfig::default());
    }
}
