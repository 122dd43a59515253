//! A weight matrix as the matmul kernels read it: f32 packed into panels of `NR` rows transposed to `k × NR`,
//! quantized as stored (decoded into panels by each task), or repacked for integer dot products (int8 natively,
//! int16 in wasm).

use std::ops::Range;

use half::f16;
use unmask_model::{QuantScheme, QuantTensor};

#[cfg(target_arch = "x86_64")]
use crate::int8::Int8Matrix;
#[cfg(target_arch = "wasm32")]
use crate::int16::Int16Matrix;
use crate::tile::NR;

/// A weight matrix `W`, `rows × cols`: f32 packed into panels at load, quantized as stored, or quantized and
/// repacked for integer dot products where the CPU has them ([`Matrix::for_this_cpu`]).
pub enum Matrix {
    /// Panel `p` holds rows `p·NR ..` transposed to `cols × NR` (zero rows pad the last panel).
    F32 {
        rows: usize,
        cols: usize,
        panels: Vec<f32>,
    },
    Quant(QuantTensor),
    #[cfg(target_arch = "x86_64")]
    Int8(Int8Matrix),
    #[cfg(target_arch = "wasm32")]
    Int16(Int16Matrix),
}

impl Matrix {
    /// Packs a row-major `rows × cols` matrix.
    pub fn f32(rows: usize, cols: usize, data: &[f32]) -> Matrix {
        debug_assert_eq!(data.len(), rows * cols);
        let mut panels = vec![0.0f32; rows.div_ceil(NR) * cols * NR];
        for (r, row) in data.chunks_exact(cols).enumerate() {
            let panel = &mut panels[r / NR * cols * NR..][..cols * NR];
            for (c, &value) in row.iter().enumerate() {
                panel[c * NR + r % NR] = value;
            }
        }
        Matrix::F32 { rows, cols, panels }
    }

    /// Matrices stacked by rows (the fused projections), in the order `source` gives: row `r` of the result is
    /// row `source(r)` of the parts one after another. Quantized alike, they stay quantized (rows copied as
    /// stored); otherwise the result is f32.
    pub fn stacked(parts: Vec<Matrix>, source: impl Fn(usize) -> usize) -> Matrix {
        let (rows, cols) = (parts.iter().map(Matrix::rows).sum(), parts[0].cols());
        // (part, row of that part) of row `r` of the parts one after another.
        let locate = |mut r: usize| {
            for (i, part) in parts.iter().enumerate() {
                if r < part.rows() {
                    return (i, r);
                }
                r -= part.rows();
            }
            unreachable!("row {r} past the stacked parts")
        };
        let quantized: Option<Vec<&QuantTensor>> =
            parts.iter().map(|p| if let Matrix::Quant(q) = p { Some(q) } else { None }).collect();
        if let Some(qs) =
            quantized.filter(|qs| qs.iter().all(|q| (q.scheme, q.group_size) == (qs[0].scheme, qs[0].group_size)))
        {
            let mut stacked = QuantTensor::empty(qs[0].scheme, qs[0].group_size, rows, cols);
            for (i, row) in (0..rows).map(|r| locate(source(r))) {
                stacked.push_row(qs[i], row);
            }
            return Matrix::Quant(stacked);
        }
        let mut data = vec![0.0f32; rows * cols];
        for (r, out) in data.chunks_exact_mut(cols).enumerate() {
            let (i, row) = locate(source(r));
            parts[i].row(row, out);
        }
        Matrix::f32(rows, cols, &data)
    }

    /// Rows `range` only (a shard's slice), kept as stored: quantized rows are copied as they are.
    pub fn rows_of(self, range: Range<usize>) -> Matrix {
        if range == (0..self.rows()) { self } else { self.copy_of_rows(range) }
    }

    /// A copy of rows `range`, as [`rows_of`](Self::rows_of) makes it.
    pub fn copy_of_rows(&self, range: Range<usize>) -> Matrix {
        let (rows, cols) = (range.len(), self.cols());
        match self {
            Matrix::Quant(q) => {
                let mut part = QuantTensor::empty(q.scheme, q.group_size, rows, cols);
                range.for_each(|r| part.push_row(q, r));
                Matrix::Quant(part)
            }
            _ => {
                let mut data = vec![0.0f32; rows * cols];
                for (r, out) in range.zip(data.chunks_exact_mut(cols)) {
                    self.row(r, out);
                }
                Matrix::f32(rows, cols, &data)
            }
        }
    }

    /// `gate` and `up` (same shape, a multiple of `NR` rows) stacked panel by panel for [`matmul_swiglu`]:
    /// rows `0..NR` of gate, rows `0..NR` of up, rows `NR..2NR` of gate, …
    pub fn interleave_panels(gate: Matrix, up: Matrix) -> Matrix {
        let rows = gate.rows();
        debug_assert!(rows.is_multiple_of(NR) && up.rows() == rows && up.cols() == gate.cols());
        Matrix::stacked(vec![gate, up], |r| {
            let (pair, j) = (r / (2 * NR), r % (2 * NR));
            if j < NR { pair * NR + j } else { rows + pair * NR + j - NR }
        })
    }

    /// A quantized matrix in the form this CPU multiplies fastest: repacked for int8 dot products where it
    /// has them, otherwise as stored. f32 matrices are returned as they are. q4a has no int8 kernel (its
    /// per-group minimums add a term per weight row and group), and decoding its panels in every matmul runs at
    /// a third of the f32 kernel's speed: natively it is widened once to f32 panels (4 bytes a weight instead of
    /// 5/8), or, with `requantize_q4a`, requantized to q8 (groups alike, a rounding of at most 1/254 of a
    /// group's largest value) for the int8 kernel (a quarter of the bytes). In wasm every quantized matrix is
    /// repacked, as small as stored, for the 16-bit integer kernel (`crate::int16`).
    pub fn for_this_cpu(self, requantize_q4a: bool) -> Matrix {
        // Only x86-64 has the int8 kernel that a requantized matrix would go to.
        let _ = requantize_q4a;
        match self {
            #[cfg(target_arch = "x86_64")]
            Matrix::Quant(q) if crate::int8::available() && !q.scheme.has_mins() => Matrix::Int8(Int8Matrix::new(&q)),
            #[cfg(target_arch = "x86_64")]
            Matrix::Quant(q) if crate::int8::available() && requantize_q4a => {
                let q8 = QuantTensor::quantize(&q.dequantize(), q.rows, q.cols, QuantScheme::Q8, q.group_size)
                    .expect("q4a values are finite and within f16 range");
                Matrix::Int8(Int8Matrix::new(&q8))
            }
            #[cfg(not(target_arch = "wasm32"))]
            Matrix::Quant(q) if q.scheme.has_mins() => Matrix::Quant(q).dequantized(),
            #[cfg(target_arch = "wasm32")]
            Matrix::Quant(q) => Matrix::Int16(Int16Matrix::new(&q)),
            other => other,
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            Matrix::F32 { rows, .. } => *rows,
            Matrix::Quant(q) => q.rows,
            #[cfg(target_arch = "x86_64")]
            Matrix::Int8(q) => q.rows(),
            #[cfg(target_arch = "wasm32")]
            Matrix::Int16(q) => q.rows(),
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Matrix::F32 { cols, .. } => *cols,
            Matrix::Quant(q) => q.cols,
            #[cfg(target_arch = "x86_64")]
            Matrix::Int8(q) => q.cols(),
            #[cfg(target_arch = "wasm32")]
            Matrix::Int16(q) => q.cols(),
        }
    }

    /// Bytes the weights take in memory.
    pub fn bytes(&self) -> usize {
        match self {
            Matrix::F32 { panels, .. } => panels.len() * 4,
            Matrix::Quant(q) => q.words.len() * 4 + (q.scales.len() + q.mins.len()) * 2,
            #[cfg(target_arch = "x86_64")]
            Matrix::Int8(q) => q.bytes(),
            #[cfg(target_arch = "wasm32")]
            Matrix::Int16(q) => q.bytes(),
        }
    }

    /// The same matrix as f32 panels (a quantized one dequantized exactly, once). Decoded straight into the
    /// panels: a row-major copy first would triple the memory traffic of a 151,936-row head at load.
    pub fn dequantized(self) -> Matrix {
        match self {
            Matrix::Quant(q) => {
                Matrix::F32 { rows: q.rows, cols: q.cols, panels: decode_panels(&q, 0..q.rows.div_ceil(NR)) }
            }
            other => other,
        }
    }

    /// Row `r` as f32.
    pub fn row(&self, r: usize, out: &mut [f32]) {
        match self {
            Matrix::F32 { cols, panels, .. } => {
                let panel = &panels[r / NR * cols * NR..][..cols * NR];
                out.iter_mut().zip(panel.chunks_exact(NR)).for_each(|(o, column)| *o = column[r % NR]);
            }
            Matrix::Quant(q) => dequantize_row(q, r, out, 1, 0),
            #[cfg(target_arch = "x86_64")]
            Matrix::Int8(q) => q.row(r, out),
            #[cfg(target_arch = "wasm32")]
            Matrix::Int16(q) => q.row(r, out),
        }
    }
}

/// Row `row` of a quantized tensor as f32, value `c` written to `out[c · stride + offset]` — exactly as
/// `QuantTensor::dequantize_row` defines the values (quant.rs): q8 bytes are two's complement, q4 nibbles are
/// offset by 8, q4a nibbles are levels above the group's minimum; one f16 scale (and minimum) per group.
fn dequantize_row(q: &QuantTensor, row: usize, out: &mut [f32], stride: usize, offset: usize) {
    let per_word = q.scheme.values_per_word();
    let (cols, groups) = (q.cols, q.cols / q.group_size);
    let words = &q.words[row * cols / per_word..][..cols / per_word];
    let scales = &q.scales[row * groups..][..groups];
    let words_per_group = q.group_size / per_word;
    for (w, &word) in words.iter().enumerate() {
        let group = w / words_per_group;
        let scale = f16::from_bits(scales[group]).to_f32();
        let column = w * per_word;
        let mut put = |i: usize, value: f32| out[(column + i) * stride + offset] = value;
        match q.scheme {
            QuantScheme::Q8 => (0..4).for_each(|b| put(b, f32::from((word >> (8 * b)) as u8 as i8) * scale)),
            QuantScheme::Q4 => (0..8).for_each(|n| put(n, (((word >> (4 * n)) & 0xf) as i32 - 8) as f32 * scale)),
            QuantScheme::Q4A => {
                let min = f16::from_bits(q.mins[row * groups + group]).to_f32();
                (0..8).for_each(|n| put(n, ((word >> (4 * n)) & 0xf) as f32 * scale + min));
            }
        }
    }
}

/// The share's panels of `W` as f32, `k × NR` each: a slice of the packed matrix, or decoded from a quantized one.
pub(crate) fn share_panels<'a>(w: &'a Matrix, share: &Range<usize>) -> std::borrow::Cow<'a, [f32]> {
    let k = w.cols();
    match w {
        Matrix::F32 { panels, .. } => panels[share.start * k * NR..share.end * k * NR].into(),
        Matrix::Quant(q) => decode_panels(q, share.clone()).into(),
        #[cfg(target_arch = "x86_64")]
        Matrix::Int8(_) => unreachable!("int8 matrices take their own kernel"),
        #[cfg(target_arch = "wasm32")]
        Matrix::Int16(_) => unreachable!("int16 matrices take their own kernel"),
    }
}

/// Panels `share` of a quantized matrix as f32, each `k × NR` (zero rows pad the last panel of the matrix):
/// decoded once per task, so quantization costs O(m · k) per matmul, not O(n · m · k).
fn decode_panels(q: &QuantTensor, share: Range<usize>) -> Vec<f32> {
    let k = q.cols;
    let mut panels = vec![0.0f32; share.len() * k * NR];
    for (panel, index) in panels.chunks_exact_mut(k * NR).zip(share) {
        for j in 0..NR.min(q.rows - index * NR) {
            dequantize_row(q, index * NR + j, panel, NR, j);
        }
    }
    panels
}

#[cfg(test)]
mod tests {
    use super::*;
    use unmask_model::{QuantScheme, QuantTensor};

    #[test]
    fn dequantized_panels_hold_the_quantized_values() {
        // 13 rows: the last panel is partly padding, which must stay zero.
        let (rows, cols) = (13, 64);
        let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0).collect();
        for scheme in [QuantScheme::Q8, QuantScheme::Q4, QuantScheme::Q4A] {
            let q = QuantTensor::quantize(&w, rows, cols, scheme, 32).unwrap();
            let expected = Matrix::f32(rows, cols, &q.dequantize());
            let (Matrix::F32 { panels, .. }, Matrix::F32 { panels: want, .. }) =
                (Matrix::Quant(q).dequantized(), expected)
            else {
                panic!("dequantized matrices are f32");
            };
            assert_eq!(panels, want, "{scheme:?}");
        }
    }
}
