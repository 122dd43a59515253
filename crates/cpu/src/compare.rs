//! How far one model's logits are from another's, on the rows a decoding step reads: the measure of
//! quantization error (`unmask convert`) and of an engine against this oracle.

use crate::{CpuError, CpuModel};

/// Tokens of text a probe uses at most (fewer if the model's context is shorter).
pub const PROBE_LEN: usize = 256;

/// Differences between a candidate's logits and the reference's over the same rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogitError {
    /// Logit rows compared.
    pub rows: usize,
    /// Largest |Δlogit| over every row and token.
    pub max_abs: f32,
    /// Mean |Δlogit| over every row and token.
    pub mean_abs: f64,
    /// Rows whose largest logit is the same token in both (the first one on ties).
    pub top1_agree: usize,
}

impl LogitError {
    /// Compares row-major `[rows, vocab]` logits.
    pub fn between(reference: &[f32], candidate: &[f32], vocab: usize) -> Self {
        assert_eq!(reference.len(), candidate.len(), "logits of different sizes");
        let mut error = LogitError { rows: reference.len() / vocab, max_abs: 0.0, mean_abs: 0.0, top1_agree: 0 };
        let mut sum = 0.0f64;
        for (r, c) in reference.chunks_exact(vocab).zip(candidate.chunks_exact(vocab)) {
            for (a, b) in r.iter().zip(c) {
                let diff = (a - b).abs();
                // NaN must not hide behind `max`.
                error.max_abs = if diff.is_nan() { f32::NAN } else { error.max_abs.max(diff) };
                sum += f64::from(diff);
            }
            error.top1_agree += usize::from(argmax(r) == argmax(c));
        }
        error.mean_abs = if reference.is_empty() { 0.0 } else { sum / reference.len() as f64 };
        error
    }

    /// Pools two measurements (the mean weighted by rows).
    pub fn merge(self, other: Self) -> Self {
        let rows = self.rows + other.rows;
        let mean = |a: &Self| a.mean_abs * a.rows as f64;
        LogitError {
            rows,
            max_abs: if self.max_abs.is_nan() || other.max_abs.is_nan() {
                f32::NAN
            } else {
                self.max_abs.max(other.max_abs)
            },
            mean_abs: if rows == 0 { 0.0 } else { (mean(&self) + mean(&other)) / rows as f64 },
            top1_agree: self.top1_agree + other.top1_agree,
        }
    }

    /// Top-1 agreement as a fraction of the rows (1 when there are none).
    pub fn top1_agreement(&self) -> f64 {
        if self.rows == 0 { 1.0 } else { self.top1_agree as f64 / self.rows as f64 }
    }
}

/// First index of the largest value.
fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold(0, |best, (i, &x)| if x > row[best] { i } else { best })
}

/// The canvas a probe runs on: `text` cut to `len` tokens with about half of its positions, a fixed
/// pseudo-random choice, replaced by `mask_token`. Returns the canvas and the masked positions.
pub fn probe_canvas(text: &[u32], len: usize, mask_token: u32) -> (Vec<u32>, Vec<usize>) {
    let mut canvas = text[..text.len().min(len)].to_vec();
    // The top bit of a multiplicative hash of the position: balanced, with runs of masks of varying length.
    let masked: Vec<usize> =
        (0..canvas.len()).filter(|&i| (i as u32 ^ 0x5bd1_e995).wrapping_mul(0x9e37_79b9) >> 31 == 1).collect();
    for &i in &masked {
        canvas[i] = mask_token;
    }
    (canvas, masked)
}

/// The error of `candidate` against `reference` on `text`: one forward pass of each over
/// [`probe_canvas`] (at most [`PROBE_LEN`] tokens and the reference's context), comparing the logits rows that
/// predict the masked positions, which is what a decoding step reads. The two models must share config shapes.
pub fn logit_error(reference: &CpuModel, candidate: &CpuModel, text: &[u32]) -> Result<LogitError, CpuError> {
    let config = reference.config();
    let len = PROBE_LEN.min(config.max_position_embeddings);
    let (canvas, masked) = probe_canvas(text, len, config.mask_token_id);
    let rows: Vec<usize> = masked.iter().map(|&p| config.logits_row(p)).collect();
    let logits = |model: &CpuModel| -> Result<Vec<f32>, CpuError> {
        let hidden = model.hidden_states(&canvas, None)?;
        Ok(model.logits_of_rows(&hidden, &rows))
    };
    Ok(LogitError::between(&logits(reference)?, &logits(candidate)?, config.vocab_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_by_hand() {
        // Row 0: |Δ| = 0, 0.5, 0.25, argmax 1 in both. Row 1: |Δ| = 1, 0, 0; argmax 0 (a tie, the first) vs 1.
        // Sum 1.75 over 6 logits, max 1, one row of two agrees.
        let reference = [0.0, 2.0, 1.0, 3.0, 3.0, 1.0];
        let candidate = [0.0, 2.5, 1.25, 2.0, 3.0, 1.0];
        let e = LogitError::between(&reference, &candidate, 3);
        assert_eq!(e, LogitError { rows: 2, max_abs: 1.0, mean_abs: 1.75 / 6.0, top1_agree: 1 });
        assert_eq!(e.top1_agreement(), 0.5);
        let same = LogitError::between(&reference, &reference, 3);
        assert_eq!((same.max_abs, same.mean_abs, same.top1_agree), (0.0, 0.0, 2));
        let merged = e.merge(LogitError { rows: 2, max_abs: 0.5, mean_abs: 0.0, top1_agree: 2 });
        assert_eq!(merged, LogitError { rows: 4, max_abs: 1.0, mean_abs: 1.75 / 12.0, top1_agree: 3 });
        let nan = LogitError::between(&[0.0, f32::NAN], &[0.0, 1.0], 2);
        assert!(nan.max_abs.is_nan());
    }

    #[test]
    fn probe_masks_about_half_and_keeps_the_rest() {
        let text: Vec<u32> = (10..1000).collect();
        let (canvas, masked) = probe_canvas(&text, 256, 1);
        assert_eq!(canvas.len(), 256);
        assert!((100..=156).contains(&masked.len()), "{}", masked.len());
        for (i, &t) in canvas.iter().enumerate() {
            assert_eq!(t == 1, masked.contains(&i));
            if t != 1 {
                assert_eq!(t, text[i]);
            }
        }
        assert_eq!(probe_canvas(&text[..5], 256, 1).0.len(), 5);
    }
}
