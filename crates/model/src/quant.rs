//! 8-bit and 4-bit group quantization of weight matrices: the one definition of the format. The converter writes
//! it, `Weights` reads it, the CPU engines dequantize it and the GPU kernels unpack it; all of them follow this
//! page.
//!
//! # Format
//!
//! A weight is a matrix `[rows, cols]` in PyTorch `Linear` layout `[out, in]` (the embedding is
//! `[vocab, hidden]`). A *group* is `group_size` consecutive columns of one row. Requirements:
//! `group_size > 0`, `group_size % values_per_word == 0` and `cols % group_size == 0`, so a group never
//! straddles a row or a 32-bit word.
//!
//! **Symmetric (q8, q4).** Each group has one scale and each weight one integer level `q`, with
//! `L` = [`QuantScheme::max_level`] (127 for q8, 7 for q4):
//!
//! - `scale = max|w| / L`, computed in f32 and rounded to f16 (round to nearest, ties to even; subnormals kept;
//!   a scale that overflows f16 is an error). The f16 bits are stored; `s` is that f16 converted back to f32.
//! - `q = clamp(round(w / s), −L, L)`, the quotient in f32 and `round` half away from zero (Rust's
//!   `f32::round`). If `s` is 0 (an all-zero group, or a scale below half the smallest f16 subnormal), every
//!   `q` is 0. Non-finite weights are an error.
//! - The dequantized weight is `q as f32 * s`, exactly this one f32 product (it is exact: `q` has at most
//!   8 significant bits and `s` 11), so every engine sees the same weights bit for bit.
//!
//! Packing, row-major, each row starting on a new word:
//!
//! - **q8**: 4 values per `u32`; word `j` of a row holds columns `4j..4j+3`, column `4j+b` in bits
//!   `8b..8b+7` as a two's-complement byte (little-endian byte order).
//! - **q4**: 8 values per `u32`; word `j` holds columns `8j..8j+7`, column `8j+n` in bits `4n..4n+3` as the
//!   nibble `q + 8` (1..=15).
//! - **q4a**: as q4, the nibble being `q` itself (0..=15).
//!
//! Reading is total: the codes the quantizer never writes (byte −128, nibble 0) decode to −128 and −8.
//!
//! Error bound: with a normal f16 scale, `|w − q·s| ≤ s/2` for every weight (the f16 rounding of the scale
//! moves `max|w| / s` by at most `L·2⁻¹¹ < 1/2`, so no level is clamped by more than rounding would).
//!
//! **Asymmetric (q4a).** Each group has a scale and a minimum, each weight a level `q` in `0..=15` (the values
//! llama.cpp's Q4_1 blocks hold, so such a GGUF tensor is imported exactly as stored). Sixteen levels over the
//! group's range fit better than q4's fifteen around zero (on the 4 M model, mean |Δlogit| 0.116 against 0.149).
//! A model fine-tuned from Q4_1 weights should not be rounded to nearest: it snaps back to its teacher's grid
//! (`tools/train/adapt/gptq.py` says why and quantizes with error feedback instead).
//!
//! - `m` = the group's smallest weight rounded to f16 (as above); `scale = (max w − m) / 15`, computed in f32
//!   and rounded to f16. Both f16 bit patterns are stored; `m` and `s` are them as f32.
//! - `q = clamp(round((w − m) / s), 0, 15)`; every `q` is 0 if `s` is 0.
//! - The dequantized weight is `q as f32 * s + m`: the product is exact, so there is one rounding (the sum), and
//!   a fused multiply-add gives the same f32.
//!
//! Error bound: `|w − (q·s + m)| ≤ s/2 + |min w − m|` plus the sum's rounding.
//!
//! # Storage in safetensors
//!
//! A quantized tensor `<name>` is stored as dtype U32 with shape `[rows, cols / values_per_word]`, next to
//! `<name>.scales`, dtype F16, shape `[rows, cols / group_size]`, and for q4a `<name>.mins` of the same dtype and
//! shape. The file's `__metadata__` carries `"unmask.quant": "q8" | "q4" | "q4a"` and
//! `"unmask.group_size": "<n>"`; every U32 tensor of such a file is quantized.
//! Norm weights and biases stay f32.

use half::f16;

use crate::error::{ModelError, Result};

/// `__metadata__` key naming the scheme of a quantized file.
pub const QUANT_KEY: &str = "unmask.quant";
/// `__metadata__` key holding the group size of a quantized file.
pub const GROUP_SIZE_KEY: &str = "unmask.group_size";
/// Suffix of the tensor that holds a quantized tensor's scales.
pub const SCALES_SUFFIX: &str = ".scales";
/// Suffix of the tensor that holds a q4a tensor's group minimums.
pub const MINS_SUFFIX: &str = ".mins";

/// The group size the converter uses unless told otherwise.
pub const DEFAULT_GROUP_SIZE: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantScheme {
    /// 8-bit levels −127..=127, 4 per word.
    Q8,
    /// 4-bit levels −7..=7, 8 per word.
    Q4,
    /// 4-bit levels 0..=15 above a per-group minimum, 8 per word.
    Q4A,
}

impl QuantScheme {
    /// `"q8"` / `"q4"`, as written in the file metadata and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            QuantScheme::Q8 => "q8",
            QuantScheme::Q4 => "q4",
            QuantScheme::Q4A => "q4a",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scheme| scheme.name() == s)
    }

    /// Every scheme, in the order of their numbers in the shaders (`SCHEME` 1, 2, 3; 0 is f32).
    pub const ALL: [QuantScheme; 3] = [QuantScheme::Q8, QuantScheme::Q4, QuantScheme::Q4A];

    pub fn values_per_word(self) -> usize {
        match self {
            QuantScheme::Q8 => 4,
            QuantScheme::Q4 | QuantScheme::Q4A => 8,
        }
    }

    /// The largest level `L`; levels run from −L to L (from 0 to L for q4a).
    pub fn max_level(self) -> i32 {
        match self {
            QuantScheme::Q8 => 127,
            QuantScheme::Q4 => 7,
            QuantScheme::Q4A => 15,
        }
    }

    /// Whether each group also has a minimum (`<name>.mins`).
    pub fn has_mins(self) -> bool {
        self == QuantScheme::Q4A
    }

    fn bits(self) -> usize {
        32 / self.values_per_word()
    }
}

/// Checks the format's shape requirements; the message says which one fails.
pub(crate) fn check_layout(scheme: QuantScheme, group_size: usize, cols: usize) -> std::result::Result<(), String> {
    let per_word = scheme.values_per_word();
    if group_size == 0 {
        return Err("group size 0".into());
    }
    if !group_size.is_multiple_of(per_word) {
        return Err(format!(
            "group size {group_size} is not a multiple of {per_word} ({} packs {per_word} values per word)",
            scheme.name()
        ));
    }
    if !cols.is_multiple_of(group_size) {
        return Err(format!("{cols} columns are not a multiple of the group size {group_size}"));
    }
    Ok(())
}

/// A quantized `[rows, cols]` matrix: packed levels, one f16 scale per group and, for q4a, one f16 minimum.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantTensor {
    pub scheme: QuantScheme,
    pub group_size: usize,
    pub rows: usize,
    pub cols: usize,
    /// rows × cols/values_per_word, row-major.
    pub words: Vec<u32>,
    /// f16 bit patterns, rows × cols/group_size, row-major.
    pub scales: Vec<u16>,
    /// f16 bit patterns like `scales` for q4a; empty for the symmetric schemes.
    pub mins: Vec<u16>,
}

impl QuantTensor {
    /// A tensor with no words or scales yet, room reserved for `rows × cols` values.
    pub fn empty(scheme: QuantScheme, group_size: usize, rows: usize, cols: usize) -> Self {
        let (words, scales) = (rows * cols / scheme.values_per_word(), rows * cols / group_size);
        QuantTensor {
            scheme,
            group_size,
            rows,
            cols,
            words: Vec::with_capacity(words),
            scales: Vec::with_capacity(scales),
            mins: Vec::with_capacity(if scheme.has_mins() { scales } else { 0 }),
        }
    }

    /// Whether the scales and minimums match the shape (a reader checks this before slicing).
    pub fn is_complete(&self) -> bool {
        let groups = self.rows * self.cols / self.group_size;
        self.words.len() == self.rows * self.cols / self.scheme.values_per_word()
            && self.scales.len() == groups
            && self.mins.len() == if self.scheme.has_mins() { groups } else { 0 }
    }

    /// Appends row `row` of `from` (same scheme, group size and columns) as stored: its words, scales and
    /// minimums. How stacking and reordering move rows into a tensor made by [`QuantTensor::empty`].
    pub fn push_row(&mut self, from: &QuantTensor, row: usize) {
        let (words, groups) = (self.cols / self.scheme.values_per_word(), self.cols / self.group_size);
        self.words.extend_from_slice(&from.words[row * words..][..words]);
        self.scales.extend_from_slice(&from.scales[row * groups..][..groups]);
        if self.scheme.has_mins() {
            self.mins.extend_from_slice(&from.mins[row * groups..][..groups]);
        }
    }

    /// Quantizes the row-major matrix `w` (`rows × cols` values) as the module documentation defines.
    pub fn quantize(w: &[f32], rows: usize, cols: usize, scheme: QuantScheme, group_size: usize) -> Result<Self> {
        let fail = |message: String| ModelError::Quantize { message };
        check_layout(scheme, group_size, cols).map_err(fail)?;
        if w.len() != rows * cols {
            return Err(fail(format!("{} values for a {rows} × {cols} matrix", w.len())));
        }
        let (per_word, bits, level) = (scheme.values_per_word(), scheme.bits(), scheme.max_level());
        let mut q = QuantTensor::empty(scheme, group_size, rows, cols);
        q.words = vec![0u32; rows * cols / per_word];
        for (g, group) in w.chunks_exact(group_size).enumerate() {
            let first = g * group_size;
            if let Some(i) = group.iter().position(|x| !x.is_finite()) {
                let (row, col) = ((first + i) / cols, (first + i) % cols);
                return Err(fail(format!("weight [{row}, {col}] is {}", group[i])));
            }
            // The message is only formatted for the group that fails (this runs once per group).
            let to_f16 = |value: f32, what: &dyn Fn() -> String| {
                let bits = f16::from_f32(value).to_bits();
                let back = f16::from_bits(bits).to_f32();
                if back.is_infinite() {
                    let row = first / cols;
                    return Err(fail(format!("row {row}: {} beyond the f16 range", what())));
                }
                Ok((bits, back))
            };
            let (scale, min) = if scheme.has_mins() {
                let lo = group.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = group.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let (min_bits, min) = to_f16(lo, &|| format!("min w = {lo} is a minimum"))?;
                let spread = || format!("max w − min w = {} needs a scale", hi - lo);
                let (scale_bits, scale) = to_f16((hi - min) / level as f32, &spread)?;
                q.mins.push(min_bits);
                q.scales.push(scale_bits);
                (scale, min)
            } else {
                let max = group.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let (scale_bits, scale) = to_f16(max / level as f32, &|| format!("max |w| = {max} needs a scale"))?;
                q.scales.push(scale_bits);
                (scale, 0.0)
            };
            for (i, &x) in group.iter().enumerate() {
                let level = match scheme {
                    _ if scale == 0.0 => 0,
                    QuantScheme::Q4A => ((x - min) / scale).round().clamp(0.0, level as f32) as i32,
                    QuantScheme::Q8 | QuantScheme::Q4 => ((x / scale).round() as i32).clamp(-level, level),
                };
                let code = match scheme {
                    QuantScheme::Q8 => u32::from(level as u8),
                    QuantScheme::Q4 => (level + 8) as u32,
                    QuantScheme::Q4A => level as u32,
                };
                // Rows are whole words (cols is a multiple of the group size, hence of per_word).
                let flat = first + i;
                q.words[flat / per_word] |= code << (bits * (flat % per_word));
            }
        }
        Ok(q)
    }

    /// The whole matrix, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        (0..self.rows).flat_map(|row| self.dequantize_row(row)).collect()
    }

    /// One row. Panics if `row >= rows`.
    pub fn dequantize_row(&self, row: usize) -> Vec<f32> {
        let groups = self.cols / self.group_size;
        let scales = &self.scales[row * groups..][..groups];
        let min = |group: usize| match self.scheme.has_mins() {
            true => f16::from_bits(self.mins[row * groups + group]).to_f32(),
            false => 0.0,
        };
        self.levels(row)
            .enumerate()
            .map(|(col, q)| {
                let group = col / self.group_size;
                q as f32 * f16::from_bits(scales[group]).to_f32() + min(group)
            })
            .collect()
    }

    /// The integer levels of one row, column by column (a value is its level times its group's scale, plus its
    /// group's minimum for q4a).
    /// Panics if `row >= rows`.
    pub fn levels(&self, row: usize) -> impl Iterator<Item = i32> + '_ {
        let (per_word, bits) = (self.scheme.values_per_word(), self.scheme.bits());
        let words = &self.words[row * (self.cols / per_word)..][..self.cols / per_word];
        (0..self.cols).map(move |col| {
            let code = (words[col / per_word] >> (bits * (col % per_word))) & ((1 << bits) - 1);
            match self.scheme {
                QuantScheme::Q8 => i32::from(code as u8 as i8),
                QuantScheme::Q4 => code as i32 - 8,
                QuantScheme::Q4A => code as i32,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: u16 = 0x3C00; // f16 1.0
    const HALF: u16 = 0x3800; // f16 0.5

    fn scale_bits(max_abs: f32, scheme: QuantScheme) -> u16 {
        let mut w = vec![0.0; 8];
        w[3] = max_abs;
        QuantTensor::quantize(&w, 1, 8, scheme, 8).unwrap().scales[0]
    }

    #[test]
    fn names_round_trip() {
        for scheme in QuantScheme::ALL {
            assert_eq!(QuantScheme::parse(scheme.name()), Some(scheme));
        }
        assert_eq!(QuantScheme::parse("Q8"), None);
        assert_eq!(QuantScheme::parse("f16"), None);
    }

    #[test]
    fn q8_packs_as_worked_by_hand() {
        // Row 0: max |w| = 127 → scale 1 (f16 0x3C00); levels 127, −64, 1, round(0.4) = 0 → bytes 0x7F, 0xC0,
        //   0x01, 0x00; column b in bits 8b..8b+7 → word 0x0001C07F.
        // Row 1: max |w| = 63.5 → scale 0.5 (0x3800); w/s = −127, 2.5, 1.5, −0.4 → levels −127, 3 (half away
        //   from zero), 2, 0 → bytes 0x81, 0x03, 0x02, 0x00 → word 0x00020381.
        let w = [127.0, -64.0, 1.0, 0.4, -63.5, 1.25, 0.75, -0.2];
        let q = QuantTensor::quantize(&w, 2, 4, QuantScheme::Q8, 4).unwrap();
        assert_eq!(q.words, vec![0x0001_C07F, 0x0002_0381]);
        assert_eq!(q.scales, vec![ONE, HALF]);
        assert_eq!(q.dequantize(), vec![127.0, -64.0, 1.0, 0.0, -63.5, 1.5, 1.0, 0.0]);
        assert_eq!(q.dequantize_row(1), vec![-63.5, 1.5, 1.0, 0.0]);
    }

    #[test]
    fn q8_uses_the_rounded_scale() {
        // max |w| = 1 → 1/127 = 0.0078740… = 2⁻⁷ · 1.00787…; the f16 mantissa is round(0.00787 · 1024) = 8, so
        // the scale is 0x2000 | 8 = 0x2008 = 1032 / 2¹⁷. Then 0.5 / s = 65536 / 1032 = 63.50… → level 64 (with
        // the exact 1/127 it would have been a tie at 63.5), dequantized 64 · 1032 / 2¹⁷ = 0.50390625.
        let q = QuantTensor::quantize(&[1.0, 0.5, -1.0, 0.0], 1, 4, QuantScheme::Q8, 4).unwrap();
        assert_eq!(q.scales, vec![0x2008]);
        assert_eq!(q.words, vec![0x0081_407F]); // 127, 64, −127 = 0x81, 0
        assert_eq!(q.dequantize(), vec![127.0 * 1032.0 / 131072.0, 0.503_906_25, -127.0 * 1032.0 / 131072.0, 0.0]);
    }

    #[test]
    fn q4_packs_as_worked_by_hand() {
        // Group 0: max |w| = 7 → scale 1 (0x3C00); levels 7, −7, 4 (3.5 half away), −4, 0 (0.49), −1 (−0.51),
        //   1, 0 → nibbles q + 8 = F, 1, C, 4, 8, 7, 9, 8; column n in bits 4n.. → word 0x89784C1F.
        // Group 1: all zero → scale 0, every level 0 → nibble 8 everywhere → 0x88888888.
        let mut w = vec![7.0, -7.0, 3.5, -3.5, 0.49, -0.51, 1.0, 0.0];
        w.extend([0.0; 8]);
        let q = QuantTensor::quantize(&w, 1, 16, QuantScheme::Q4, 8).unwrap();
        assert_eq!(q.words, vec![0x8978_4C1F, 0x8888_8888]);
        assert_eq!(q.scales, vec![ONE, 0x0000]);
        let mut expected = vec![7.0, -7.0, 4.0, -4.0, 0.0, -1.0, 1.0, 0.0];
        expected.extend([0.0; 8]);
        assert_eq!(q.dequantize(), expected);
    }

    #[test]
    fn q4a_packs_as_worked_by_hand() {
        // Group 0: min −1 (f16 0xBC00), max 14 → scale (14 + 1) / 15 = 1 (0x3C00); (w + 1) / 1 = 0, 15, 3.5,
        //   1.49, 0.5, 7, 4.7, 1 → levels 0, 15, 4 (half away from zero), 1, 1, 7, 5, 1 → nibbles as they are,
        //   column n in bits 4n.. → word 0x157114F0; dequantized q · 1 − 1.
        // Group 1: every weight 2 → minimum 2 (0x4000), scale 0, levels 0: the constant survives exactly.
        let mut w = vec![-1.0, 14.0, 2.5, 0.49, -0.5, 6.0, 3.7, 0.0];
        w.extend([2.0; 8]);
        let q = QuantTensor::quantize(&w, 1, 16, QuantScheme::Q4A, 8).unwrap();
        assert_eq!(q.words, vec![0x1571_14F0, 0x0000_0000]);
        assert_eq!(q.scales, vec![ONE, 0x0000]);
        assert_eq!(q.mins, vec![0xBC00, 0x4000]);
        let mut expected = vec![-1.0, 14.0, 3.0, 0.0, 0.0, 6.0, 4.0, 0.0];
        expected.extend([2.0; 8]);
        assert_eq!(q.dequantize(), expected);
        assert!(q.is_complete());
    }

    #[test]
    fn q4a_rounds_the_minimum_first() {
        // min w = 0.1 rounds to the f16 1638 / 2¹⁴ = 0.0999755859375 (0x2E66); max 1.6: (1.6 − m) / 15 =
        // 0.10000163… → f16 0x2E66 as well (the next f16 up is 0.10003662…). Level of 0.1: (0.1 − m) / s ≈ 0.0002
        // → 0; of 1.6: 15.0 → 15, dequantized 15 · s + m = 16 · 1638 / 2¹⁴ = 1.599609375.
        let q = QuantTensor::quantize(&[0.1, 1.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 1, 8, QuantScheme::Q4A, 8).unwrap();
        assert_eq!((q.mins.clone(), q.scales.clone()), (vec![0x2E66], vec![0x2E66]));
        assert_eq!(q.words, vec![0x0000_00F0]);
        assert_eq!(q.dequantize()[..2], [1638.0 / 16384.0, 16.0 * 1638.0 / 16384.0]);
    }

    #[test]
    fn subnormal_scales_round_and_clamp() {
        // 9.8 · 2⁻²⁴ / 7 = 1.4 · 2⁻²⁴ rounds to the smallest f16 subnormal 2⁻²⁴ (bits 0x0001); then w / s = 9.8
        // rounds to 10, clamped to 7 (nibble 15).
        let tiny = 2f32.powi(-24);
        let q =
            QuantTensor::quantize(&[9.8 * tiny, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 1, 8, QuantScheme::Q4, 8).unwrap();
        assert_eq!(q.scales, vec![0x0001]);
        assert_eq!(q.words, vec![0x8888_888F]);
        assert_eq!(q.dequantize()[0], 7.0 * tiny);
        // A scale of 2⁻²⁵ is a tie between 0 and 2⁻²⁴: to even, 0, so every level is 0.
        let q = QuantTensor::quantize(&[-127.0 * tiny / 2.0, 0.0, 0.0, 1e-9], 1, 4, QuantScheme::Q8, 4).unwrap();
        assert_eq!(q.scales, vec![0x0000]);
        assert_eq!(q.words, vec![0]);
        assert_eq!(q.dequantize(), vec![0.0; 4]);
    }

    #[test]
    fn f16_scale_rounding_cases() {
        let q8 = QuantScheme::Q8;
        // 1 + 2⁻¹¹ lies halfway between 1 (0x3C00) and 1 + 2⁻¹⁰ (0x3C01): ties to even, 0x3C00.
        assert_eq!(scale_bits(127.0 * (1.0 + 2f32.powi(-11)), q8), 0x3C00);
        // 1 + 3·2⁻¹¹ lies halfway between 0x3C01 and 0x3C02: to even, 0x3C02.
        assert_eq!(scale_bits(127.0 * (1.0 + 3.0 * 2f32.powi(-11)), q8), 0x3C02);
        // Just above the first tie rounds up.
        assert_eq!(scale_bits(7.0 * (1.0 + 2f32.powi(-11) + 2f32.powi(-20)), QuantScheme::Q4), 0x3C01);
        // The largest f16, 65504 = 0x7BFF; 65519 still rounds down to it.
        assert_eq!(scale_bits(127.0 * 65504.0, q8), 0x7BFF);
        assert_eq!(scale_bits(127.0 * 65519.0, q8), 0x7BFF);
        // 0.75 · 2⁻²⁴ rounds up to the smallest subnormal; 2⁻¹⁴ is the smallest normal, 0x0400.
        assert_eq!(scale_bits(127.0 * 0.75 * 2f32.powi(-24), q8), 0x0001);
        assert_eq!(scale_bits(127.0 * 2f32.powi(-14), q8), 0x0400);
    }

    #[test]
    fn scale_overflow_is_an_error() {
        // 65520 is the tie between 65504 and 2¹⁶, which f16 cannot hold: rounds to infinity.
        let mut w = vec![0.0; 8];
        w[5] = 127.0 * 65520.0;
        let err = QuantTensor::quantize(&w, 1, 8, QuantScheme::Q8, 8).unwrap_err().to_string();
        assert!(err.contains("max |w| = 8321040 needs a scale beyond the f16 range"), "{err}");
        // q4a: a minimum that f16 cannot hold, and a spread whose scale it cannot.
        w[5] = -70000.0;
        let err = QuantTensor::quantize(&w, 1, 8, QuantScheme::Q4A, 8).unwrap_err().to_string();
        assert!(err.contains("row 0: min w = -70000 is a minimum beyond the f16 range"), "{err}");
        let w = [-60000.0, 60000.0 * 17.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let err = QuantTensor::quantize(&w, 1, 8, QuantScheme::Q4A, 8).unwrap_err().to_string();
        assert!(err.contains("needs a scale beyond the f16 range"), "{err}");
    }

    #[test]
    fn bad_shapes_and_values_are_errors() {
        let w = vec![0.5; 64];
        let err = |r: Result<QuantTensor>| r.unwrap_err().to_string();
        let e = err(QuantTensor::quantize(&w, 2, 32, QuantScheme::Q8, 0));
        assert!(e.contains("group size 0"), "{e}");
        let e = err(QuantTensor::quantize(&w, 2, 32, QuantScheme::Q4, 4));
        assert!(e.contains("group size 4 is not a multiple of 8"), "{e}");
        let e = err(QuantTensor::quantize(&w, 1, 64, QuantScheme::Q8, 24));
        assert!(e.contains("64 columns are not a multiple of the group size 24"), "{e}");
        let e = err(QuantTensor::quantize(&w, 3, 32, QuantScheme::Q8, 32));
        assert!(e.contains("64 values for a 3 × 32 matrix"), "{e}");
        let mut bad = w.clone();
        bad[33] = f32::NAN;
        let e = err(QuantTensor::quantize(&bad, 2, 32, QuantScheme::Q4, 8));
        assert!(e.contains("weight [1, 1] is NaN"), "{e}");
        bad[33] = f32::NEG_INFINITY;
        let e = err(QuantTensor::quantize(&bad, 2, 32, QuantScheme::Q8, 8));
        assert!(e.contains("weight [1, 1] is -inf"), "{e}");
    }

    /// Deterministic values of varying magnitude per group (splitmix64).
    fn random_matrix(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (0..n)
            .map(|i| {
                let unit = (next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                // Magnitudes from 2⁻² to 2⁶, changing every 8 values: every scale is a normal f16.
                unit * 2f32.powi((i / 8 % 9) as i32 - 2)
            })
            .collect()
    }

    #[test]
    fn round_trip_error_is_at_most_half_a_scale() {
        let (rows, cols) = (12, 128);
        let w = random_matrix(rows * cols, 7);
        for scheme in [QuantScheme::Q8, QuantScheme::Q4] {
            for group_size in [8, 32, 128] {
                let q = QuantTensor::quantize(&w, rows, cols, scheme, group_size).unwrap();
                assert_eq!(q.words.len(), rows * cols / scheme.values_per_word());
                assert_eq!(q.scales.len(), rows * cols / group_size);
                let deq = q.dequantize();
                for (i, (&x, &y)) in w.iter().zip(&deq).enumerate() {
                    let s = f16::from_bits(q.scales[i / group_size]).to_f32();
                    assert!((x - y).abs() <= s * 0.5 * (1.0 + 1e-6), "{scheme:?}/{group_size} [{i}]: {x} → {y}, s {s}");
                    let level = y / s;
                    assert!(level.abs() <= scheme.max_level() as f32 && level == level.round(), "{level}");
                }
                for row in [0, 5, rows - 1] {
                    assert_eq!(q.dequantize_row(row), deq[row * cols..][..cols]);
                }
                // The group's largest weight reaches the top level (up to f16 rounding of the scale).
                let top = deq[..group_size].iter().fold(0f32, |m, &y| m.max(y.abs()));
                let s = f16::from_bits(q.scales[0]).to_f32();
                assert_eq!(top / s, scheme.max_level() as f32);
            }
        }
    }

    #[test]
    fn q4a_round_trip_error_is_at_most_half_a_scale_past_the_minimum() {
        let (rows, cols) = (12, 128);
        let w = random_matrix(rows * cols, 5);
        for group_size in [8, 32, 128] {
            let q = QuantTensor::quantize(&w, rows, cols, QuantScheme::Q4A, group_size).unwrap();
            assert!(q.is_complete());
            let deq = q.dequantize();
            for (g, (group, out)) in w.chunks_exact(group_size).zip(deq.chunks_exact(group_size)).enumerate() {
                let (s, m) = (f16::from_bits(q.scales[g]).to_f32(), f16::from_bits(q.mins[g]).to_f32());
                let lo = group.iter().copied().fold(f32::INFINITY, f32::min);
                // The sum q·s + m rounds once: allow a few f32 ulps of the largest value.
                let slack = (m - lo).abs() + 4.0 * f32::EPSILON * (m.abs() + 15.0 * s);
                for (&x, &y) in group.iter().zip(out) {
                    assert!((x - y).abs() <= s * 0.5 + slack, "{group_size} group {g}: {x} → {y}, s {s}, m {m}");
                }
                // The smallest weight lands on level 0 (the minimum itself), the largest on level 15.
                assert_eq!(out.iter().copied().fold(f32::INFINITY, f32::min), m);
                assert_eq!(out.iter().copied().fold(f32::NEG_INFINITY, f32::max), 15.0 * s + m);
            }
            for row in [0, 5, rows - 1] {
                assert_eq!(q.dequantize_row(row), deq[row * cols..][..cols]);
            }
        }
    }

    #[test]
    fn quantizing_the_dequantized_matrix_is_a_fixed_point() {
        let w = random_matrix(4 * 64, 11);
        for scheme in QuantScheme::ALL {
            let q = QuantTensor::quantize(&w, 4, 64, scheme, 32).unwrap();
            let again = QuantTensor::quantize(&q.dequantize(), 4, 64, scheme, 32).unwrap();
            assert_eq!(again, q);
        }
    }
}
