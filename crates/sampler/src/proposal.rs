//! What a backend computes for one masked position: a token and a score (SAMPLING.md §3 and §6). The CPU
//! engines call [`propose_from_logits`] on each logits row; a GPU engine computes the same in a fused kernel
//! and reads back only the proposals.

use serde::{Deserialize, Serialize};
use unmask_model::trace::Proposal;

use crate::rng::{Purpose, StepKey};

/// How the token of a position is drawn from its logits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum TokenDraw {
    /// Dream's `sample_tokens`: temperature, then nucleus and top-k filtering, then a categorical draw
    /// (argmax at temperature 0).
    Sample { temperature: f32, top_p: f32, top_k: u32 },
    /// LLaDA's Gumbel-max over the raw logits; scores use the untempered distribution.
    Gumbel { temperature: f32 },
}

/// How certain the model is about a position; higher is more certain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreKind {
    /// Probability of the chosen token.
    Probability,
    /// Top-1 minus top-2 probability.
    Margin,
    /// `Σ p ln(p + 1e-10)`.
    NegEntropy,
    /// A uniform random number (LLaDA `random` remasking).
    Random,
}

/// Everything a backend needs to turn a logits row into a proposal (serialisable: the page sends it to its
/// CPU worker).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalRule {
    pub draw: TokenDraw,
    pub score: ScoreKind,
    /// Never proposed, so a committed position is never a mask again.
    pub mask_token: u32,
}

/// The proposal for canvas position `position` from its logits row (already chosen by the logit shift).
/// Computed in f64 from f32 logits.
pub fn propose_from_logits(logits: &[f32], position: u32, rule: &ProposalRule, key: StepKey) -> Proposal {
    let (l, p) = distribution(logits, rule);
    propose_from(logits, &l, &p, position, rule, key)
}

/// [`propose_from_logits`] with the position's `top` [`candidates`] (none for 0), from one distribution.
pub fn score_logits(logits: &[f32], position: u32, rule: &ProposalRule, key: StepKey, top: usize) -> Scored {
    let (l, p) = distribution(logits, rule);
    Scored { proposal: propose_from(logits, &l, &p, position, rule, key), candidates: most_likely(&p, top) }
}

/// The proposal from a row's `logits` and the `l`ogits and `p`robabilities [`distribution`] made of them.
fn propose_from(logits: &[f32], l: &[f64], p: &[f64], position: u32, rule: &ProposalRule, key: StepKey) -> Proposal {
    let token = match rule.draw {
        TokenDraw::Sample { temperature, .. } => {
            if temperature > 0.0 {
                categorical(p, key.uniform(position, Purpose::Token, 0))
            } else {
                argmax(p)
            }
        }
        TokenDraw::Gumbel { temperature } => {
            if temperature > 0.0 {
                let t = temperature as f64;
                let noisy: Vec<f64> =
                    (0..l.len()).map(|v| l[v] + t * key.gumbel(position, Purpose::Gumbel, v as u32)).collect();
                argmax(&noisy)
            } else {
                argmax(l)
            }
        }
    };
    // A row with NaN or ±∞ (the mask token aside) has no meaningful token: a NaN score says so (Decode refuses it).
    let finite = logits.iter().enumerate().all(|(v, x)| x.is_finite() || v == rule.mask_token as usize);
    let score = match rule.score {
        _ if !finite => f64::NAN,
        ScoreKind::Probability => p[token],
        ScoreKind::Margin => margin(p),
        ScoreKind::NegEntropy => p.iter().map(|&pi| pi * (pi + 1e-10).ln()).sum(),
        ScoreKind::Random => key.uniform(position, Purpose::Score, 0),
    };
    Proposal { position, token: token as u32, score: score as f32 }
}

/// How many candidates a proposal carries where they are shown (the page's inspector; the GPU kernel's output).
pub const CANDIDATES: usize = 5;

/// A proposal with the tokens the model weighed at its position, most likely first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub proposal: Proposal,
    /// `(token, probability)` from [`candidates`]; fewer than [`CANDIDATES`] when fewer tokens had mass.
    pub candidates: Vec<(u32, f32)>,
}

/// The `n` most likely tokens of the distribution a proposal draws from (after temperature, top-p and
/// top-k; the mask token excluded), most likely first, ties by lower id, with their probabilities: what the
/// model weighed at a position. Fewer than `n` when fewer tokens have probability mass.
pub fn candidates(logits: &[f32], rule: &ProposalRule, n: usize) -> Vec<(u32, f32)> {
    most_likely(&distribution(logits, rule).1, n)
}

/// The `n` ids of highest probability `p` (ties by lower id), most likely first, with their probabilities; ids
/// without mass are left out. One pass keeping the best `n` in order: a vocabulary of 150 k ids is never
/// sorted for 5 of them.
fn most_likely(p: &[f64], n: usize) -> Vec<(u32, f32)> {
    if n == 0 {
        return Vec::new();
    }
    let mut best: Vec<usize> = Vec::with_capacity(n.min(p.len()) + 1);
    for (id, &pi) in p.iter().enumerate() {
        if pi <= 0.0 || (best.len() == n && p[best[n - 1]] >= pi) {
            continue;
        }
        // After every kept id of at least this probability: ids come in increasing order, so ties stay by id.
        let at = best.partition_point(|&b| p[b] >= pi);
        best.insert(at, id);
        best.truncate(n);
    }
    best.into_iter().map(|id| (id as u32, p[id] as f32)).collect()
}

/// The logits with the mask token removed (−∞), and the probabilities the rule's score reads: for `Sample`
/// the softmax of the tempered, filtered logits; for `Gumbel` the softmax of the logits themselves.
fn distribution(logits: &[f32], rule: &ProposalRule) -> (Vec<f64>, Vec<f64>) {
    let mut l: Vec<f64> = logits.iter().map(|&x| x as f64).collect();
    if let Some(mask) = l.get_mut(rule.mask_token as usize) {
        *mask = f64::NEG_INFINITY;
    }
    let p = match rule.draw {
        TokenDraw::Sample { temperature, top_p, top_k } => {
            if temperature > 0.0 {
                let t = temperature as f64;
                l.iter_mut().for_each(|x| *x /= t);
            }
            if top_p < 1.0 {
                nucleus_filter(&mut l, top_p as f64);
            }
            if top_k > 0 {
                top_k_filter(&mut l, top_k as usize);
            }
            softmax(&l)
        }
        TokenDraw::Gumbel { .. } => softmax(&l),
    };
    (l, p)
}

/// Drops (sets to −∞) every token outside the smallest high-probability set whose mass reaches `top_p`;
/// the most likely token always stays.
fn nucleus_filter(l: &mut [f64], top_p: f64) {
    let p = softmax(l);
    let mut order: Vec<usize> = (0..l.len()).collect();
    // Descending logit, ties by lower id (stable sort over ids in increasing order).
    order.sort_by(|&a, &b| l[b].total_cmp(&l[a]));
    let mut before = 0.0;
    for &id in &order {
        let drop = before > top_p;
        before += p[id];
        if drop {
            l[id] = f64::NEG_INFINITY;
        }
    }
}

/// Keeps the `k` largest logits, and every logit tied with the k-th.
fn top_k_filter(l: &mut [f64], k: usize) {
    let mut finite: Vec<f64> = l.iter().copied().filter(|x| x.is_finite()).collect();
    if k >= finite.len() {
        return;
    }
    let (_, kth, _) = finite.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let kth = *kth;
    l.iter_mut().filter(|x| **x < kth).for_each(|x| *x = f64::NEG_INFINITY);
}

/// Softmax over the finite entries (−∞ gets probability 0).
pub fn softmax(l: &[f64]) -> Vec<f64> {
    let max = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = l.iter().map(|&x| (x - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// First index of the maximum.
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// The first id whose cumulative probability reaches `u`, or the last id with mass if rounding leaves none.
fn categorical(p: &[f64], u: f64) -> usize {
    let mut cumulative = 0.0;
    for (id, &pi) in p.iter().enumerate() {
        cumulative += pi;
        if cumulative >= u {
            return id;
        }
    }
    p.iter().rposition(|&pi| pi > 0.0).unwrap_or(0)
}

fn margin(p: &[f64]) -> f64 {
    let (mut first, mut second) = (0.0f64, 0.0f64);
    let mut kept = 0;
    for &pi in p {
        if pi > 0.0 {
            kept += 1;
        }
        if pi > first {
            second = first;
            first = pi;
        } else if pi > second {
            second = pi;
        }
    }
    if kept > 1 { first - second } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: StepKey = StepKey { seed: 0, step: 0 };

    fn greedy(score: ScoreKind) -> ProposalRule {
        ProposalRule { draw: TokenDraw::Sample { temperature: 0.0, top_p: 1.0, top_k: 0 }, score, mask_token: 3 }
    }

    #[test]
    fn a_row_with_nan_or_infinity_scores_nan_under_every_rule() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let logits = [0.0f32, bad, 1.0, 100.0];
            for score in [ScoreKind::Probability, ScoreKind::Margin, ScoreKind::NegEntropy, ScoreKind::Random] {
                assert!(propose_from_logits(&logits, 7, &greedy(score), KEY).score.is_nan(), "{bad} {score:?}");
            }
        }
        // The mask token's own logit is ignored.
        let logits = [0.0f32, 1.0, 2.0, f32::NAN];
        assert!(!propose_from_logits(&logits, 7, &greedy(ScoreKind::Probability), KEY).score.is_nan());
    }

    #[test]
    fn greedy_scores_match_hand_computation() {
        // softmax([ln 1, ln 2, ln 5, (mask)]) = [1/8, 2/8, 5/8, 0].
        let logits = [0.0f32, 2f32.ln(), 5f32.ln(), 100.0];
        let p = propose_from_logits(&logits, 7, &greedy(ScoreKind::Probability), KEY);
        assert_eq!((p.position, p.token), (7, 2));
        assert!((p.score - 0.625).abs() < 1e-6);
        let m = propose_from_logits(&logits, 7, &greedy(ScoreKind::Margin), KEY);
        assert!((m.score - 0.375).abs() < 1e-6);
        let e = propose_from_logits(&logits, 7, &greedy(ScoreKind::NegEntropy), KEY);
        let expected = 0.125 * 0.125f64.ln() + 0.25 * 0.25f64.ln() + 0.625 * 0.625f64.ln();
        assert!((e.score as f64 - expected).abs() < 1e-6);
    }

    #[test]
    fn nucleus_keeps_the_smallest_set_reaching_top_p() {
        // p = [0.5, 0.3, 0.2]: exclusive prefixes 0, 0.5, 0.8; top_p 0.6 keeps ids 0 and 1.
        let mut l: Vec<f64> = [0.5f64, 0.3, 0.2].iter().map(|p| p.ln()).collect();
        nucleus_filter(&mut l, 0.6);
        assert!(l[0].is_finite() && l[1].is_finite() && l[2] == f64::NEG_INFINITY);
        let mut l: Vec<f64> = [0.5f64, 0.3, 0.2].iter().map(|p| p.ln()).collect();
        nucleus_filter(&mut l, 0.1);
        assert_eq!(l.iter().filter(|x| x.is_finite()).count(), 1);
    }

    #[test]
    fn top_k_keeps_ties() {
        let mut l = vec![1.0, 3.0, 2.0, 2.0, 0.0];
        top_k_filter(&mut l, 2);
        assert_eq!(l, vec![f64::NEG_INFINITY, 3.0, 2.0, 2.0, f64::NEG_INFINITY]);
        let mut short = vec![1.0, f64::NEG_INFINITY];
        top_k_filter(&mut short, 5);
        assert_eq!(short, vec![1.0, f64::NEG_INFINITY]);
    }

    /// The one-pass selection against its definition: sort every id with mass by probability (ties by id).
    #[test]
    fn most_likely_is_the_head_of_the_sorted_distribution() {
        let mut state = 12345u64;
        for case in 0..200 {
            let len = 1 + case % 40;
            let p: Vec<f64> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    // Few distinct values, zeros among them, so ties and massless ids are common.
                    ((state >> 33) % 5) as f64 / 4.0
                })
                .collect();
            for n in [0, 1, 3, 5, 50] {
                let mut sorted: Vec<usize> = (0..len).filter(|&v| p[v] > 0.0).collect();
                sorted.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
                let expected: Vec<(u32, f32)> = sorted.into_iter().take(n).map(|v| (v as u32, p[v] as f32)).collect();
                assert_eq!(most_likely(&p, n), expected, "p {p:?}, n {n}");
            }
        }
    }

    #[test]
    fn score_logits_is_the_proposal_and_its_candidates() {
        let logits = [0.0f32, 2f32.ln(), 5f32.ln(), 100.0, 2f32.ln()];
        for rule in [greedy(ScoreKind::Margin), greedy(ScoreKind::NegEntropy)] {
            let scored = score_logits(&logits, 7, &rule, KEY, 3);
            assert_eq!(scored.proposal, propose_from_logits(&logits, 7, &rule, KEY));
            assert_eq!(scored.candidates, candidates(&logits, &rule, 3));
            assert_eq!(scored.candidates.iter().map(|c| c.0).collect::<Vec<_>>(), vec![2, 1, 4]);
        }
    }

    #[test]
    fn categorical_inverts_the_cdf() {
        let p = [0.25, 0.0, 0.75];
        assert_eq!(categorical(&p, 0.1), 0);
        assert_eq!(categorical(&p, 0.25), 0);
        assert_eq!(categorical(&p, 0.2500001), 2);
        assert_eq!(categorical(&p, 1.5), 2);
    }

    #[test]
    fn the_mask_token_is_never_proposed() {
        let logits = [0.0f32, 0.0, 0.0, 50.0];
        for draw in
            [TokenDraw::Sample { temperature: 1.0, top_p: 1.0, top_k: 0 }, TokenDraw::Gumbel { temperature: 1.0 }]
        {
            for step in 0..50 {
                let rule = ProposalRule { draw, score: ScoreKind::Probability, mask_token: 3 };
                let p = propose_from_logits(&logits, 0, &rule, StepKey { seed: 1, step });
                assert_ne!(p.token, 3);
            }
        }
    }
}
