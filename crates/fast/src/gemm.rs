//! `Y = X · Wᵀ (+ b)` for row-major `X` (`n × k`) and a weight matrix `W` (`m × k`, the Hugging Face layout)
//! stored as f32, q8 or q4.
//!
//! The kernel computes a 2 × 4 tile of `Y` at a time as dot products along `k`, eight lanes wide: eight
//! vector accumulators plus six loads stay in registers (AVX2 has sixteen), and both operands are read
//! contiguously. Quantized weights are dequantized one panel of four rows at a time into a small f32 buffer
//! that stays in L1 while every row of `X` streams past it, so dequantization costs O(m · k), not O(n · m · k).
//!
//! The arithmetic is written as loops over fixed-size lane arrays that LLVM vectorizes: natively the hot
//! loop is compiled a second time with AVX2 + FMA and chosen at run time; in wasm it becomes SIMD128 (the
//! build enables `simd128` for the wasm target).

use half::f16;
use unmask_model::{QuantScheme, QuantTensor};

/// Lanes of one accumulator.
const LANES: usize = 8;
/// Rows of `X` and of `W` per register tile.
const TILE_X: usize = 2;
const TILE_W: usize = 4;

/// A weight matrix, `rows × cols`, row-major.
pub enum Matrix {
    F32 { rows: usize, cols: usize, data: Vec<f32> },
    Quant(QuantTensor),
}

impl Matrix {
    pub fn rows(&self) -> usize {
        match self {
            Matrix::F32 { rows, .. } => *rows,
            Matrix::Quant(q) => q.rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Matrix::F32 { cols, .. } => *cols,
            Matrix::Quant(q) => q.cols,
        }
    }

    /// Bytes the weights take in memory.
    pub fn bytes(&self) -> usize {
        match self {
            Matrix::F32 { data, .. } => data.len() * 4,
            Matrix::Quant(q) => q.words.len() * 4 + q.scales.len() * 2,
        }
    }

    /// Writes rows `first..first + out.len() / cols` of `W` as f32 into `out`.
    fn rows_f32(&self, first: usize, out: &mut [f32]) {
        match self {
            Matrix::F32 { cols, data, .. } => out.copy_from_slice(&data[first * cols..][..out.len()]),
            Matrix::Quant(q) => dequantize_rows(q, first, out),
        }
    }
}

/// Rows of a quantized tensor as f32, exactly as `QuantTensor::dequantize_row` defines them (quant.rs):
/// q8 bytes are two's complement, q4 nibbles are offset by 8; one f16 scale per group along a row.
fn dequantize_rows(q: &QuantTensor, first: usize, out: &mut [f32]) {
    let per_word = q.scheme.values_per_word();
    let cols = q.cols;
    for (r, row) in out.chunks_exact_mut(cols).enumerate() {
        let row_index = first + r;
        let words = &q.words[row_index * cols / per_word..][..cols / per_word];
        let scales = &q.scales[row_index * cols / q.group_size..][..cols / q.group_size];
        for (g, group) in row.chunks_exact_mut(q.group_size).enumerate() {
            let scale = f16::from_bits(scales[g]).to_f32();
            let group_words = &words[g * q.group_size / per_word..][..q.group_size / per_word];
            for (&w, values) in group_words.iter().zip(group.chunks_exact_mut(per_word)) {
                match q.scheme {
                    QuantScheme::Q8 => {
                        for (b, value) in values.iter_mut().enumerate() {
                            *value = f32::from((w >> (8 * b)) as u8 as i8) * scale;
                        }
                    }
                    QuantScheme::Q4 => {
                        for (n, value) in values.iter_mut().enumerate() {
                            *value = (((w >> (4 * n)) & 0xf) as i32 - 8) as f32 * scale;
                        }
                    }
                }
            }
        }
    }
}

/// `out[n × m] = x[n × k] · Wᵀ + bias`, rows of `x` split over `threads`.
pub fn matmul(x: &[f32], w: &Matrix, bias: Option<&[f32]>, out: &mut [f32], threads: usize) {
    let (m, k) = (w.rows(), w.cols());
    let n = x.len() / k;
    debug_assert_eq!(x.len(), n * k);
    debug_assert_eq!(out.len(), n * m);
    let threads = threads.clamp(1, n.div_ceil(TILE_X).max(1));
    if threads == 1 {
        matmul_rows(x, w, bias, out);
        return;
    }
    // Whole tiles per thread, so every thread but the last runs full tiles.
    let rows_per_thread = n.div_ceil(threads).div_ceil(TILE_X) * TILE_X;
    std::thread::scope(|scope| {
        let mut chunks = x.chunks(rows_per_thread * k).zip(out.chunks_mut(rows_per_thread * m));
        let mine = chunks.next();
        for (x, out) in chunks {
            scope.spawn(move || matmul_rows(x, w, bias, out));
        }
        if let Some((x, out)) = mine {
            matmul_rows(x, w, bias, out);
        }
    });
}

/// One thread's share: every panel of `TILE_W` weight rows against every row of `x`.
fn matmul_rows(x: &[f32], w: &Matrix, bias: Option<&[f32]>, out: &mut [f32]) {
    let (m, k) = (w.rows(), w.cols());
    let mut panel = vec![0.0f32; TILE_W * k];
    for first in (0..m).step_by(TILE_W) {
        let rows = TILE_W.min(m - first);
        w.rows_f32(first, &mut panel[..rows * k]);
        panel[rows * k..].fill(0.0);
        panel_times_x(x, &panel, k, first, rows, m, out);
        if let Some(bias) = bias {
            for row in out.chunks_exact_mut(m) {
                row[first..first + rows].iter_mut().zip(&bias[first..]).for_each(|(y, b)| *y += b);
            }
        }
    }
}

/// `out[:, first..first + rows] = x · panelᵀ`, using the fastest kernel this CPU has.
fn panel_times_x(x: &[f32], panel: &[f32], k: usize, first: usize, rows: usize, m: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is all `panel_avx2` requires.
        #[allow(unsafe_code)]
        unsafe {
            panel_avx2(x, panel, k, first, rows, m, out)
        };
        return;
    }
    panel_kernel::<false>(x, panel, k, first, rows, m, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn panel_avx2(x: &[f32], panel: &[f32], k: usize, first: usize, rows: usize, m: usize, out: &mut [f32]) {
    panel_kernel::<true>(x, panel, k, first, rows, m, out);
}

/// The register-tiled kernel; `FMA` selects fused multiply-add (only where the CPU has it: without
/// hardware support `mul_add` is a slow library call).
#[inline(always)]
fn panel_kernel<const FMA: bool>(
    x: &[f32],
    panel: &[f32],
    k: usize,
    first: usize,
    rows: usize,
    m: usize,
    out: &mut [f32],
) {
    let n = x.len() / k;
    let whole = k / LANES * LANES;
    let w_rows: [&[f32]; TILE_W] = std::array::from_fn(|j| &panel[j * k..][..k]);
    let mut i = 0;
    while i < n {
        let pair = TILE_X.min(n - i);
        let x_rows: [&[f32]; TILE_X] = std::array::from_fn(|r| &x[(i + r.min(pair - 1)) * k..][..k]);
        let mut acc = [[[0.0f32; LANES]; TILE_W]; TILE_X];
        for c in (0..whole).step_by(LANES) {
            let xs: [&[f32; LANES]; TILE_X] = std::array::from_fn(|r| x_rows[r][c..c + LANES].try_into().unwrap());
            let ws: [&[f32; LANES]; TILE_W] = std::array::from_fn(|j| w_rows[j][c..c + LANES].try_into().unwrap());
            for r in 0..TILE_X {
                for j in 0..TILE_W {
                    for l in 0..LANES {
                        acc[r][j][l] = if FMA {
                            xs[r][l].mul_add(ws[j][l], acc[r][j][l])
                        } else {
                            acc[r][j][l] + xs[r][l] * ws[j][l]
                        };
                    }
                }
            }
        }
        for r in 0..pair {
            let y = &mut out[(i + r) * m..][..m];
            for j in 0..rows {
                let tail: f32 = (whole..k).map(|c| x_rows[r][c] * w_rows[j][c]).sum();
                y[first + j] = acc[r][j].iter().sum::<f32>() + tail;
            }
        }
        i += TILE_X;
    }
}

/// How many threads the engine uses: the machine's cores natively, one in wasm (no threads there).
pub fn default_threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Quantizes `data` (`rows × cols`) for the engine, or keeps it f32.
pub fn matrix(data: Vec<f32>, rows: usize, cols: usize, scheme: Option<QuantScheme>, group: usize) -> Matrix {
    match scheme {
        Some(scheme) if cols % group == 0 => match QuantTensor::quantize(&data, rows, cols, scheme, group) {
            Ok(q) => Matrix::Quant(q),
            Err(_) => Matrix::F32 { rows, cols, data },
        },
        _ => Matrix::F32 { rows, cols, data },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], w: &[f32], n: usize, m: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                y[i * m + j] = (0..k).map(|c| x[i * k + c] as f64 * w[j * k + c] as f64).sum::<f64>() as f32;
            }
        }
        y
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32 - 0.5)
            .collect()
    }

    #[test]
    fn odd_shapes_match_the_naive_product() {
        for (n, m, k) in [(1, 1, 1), (3, 5, 7), (5, 9, 33), (17, 6, 64), (2, 4, 8)] {
            let (x, w) = (values(n * k, 1), values(m * k, 2));
            for threads in [1, 3] {
                let mut y = vec![f32::NAN; n * m];
                matmul(&x, &Matrix::F32 { rows: m, cols: k, data: w.clone() }, None, &mut y, threads);
                let expected = naive(&x, &w, n, m, k);
                for (a, b) in y.iter().zip(&expected) {
                    assert!((a - b).abs() < 1e-5, "{n}×{m}×{k}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn quantized_weights_match_their_dequantized_product() {
        let (n, m, k) = (7, 10, 64);
        let (x, w) = (values(n * k, 3), values(m * k, 4));
        for scheme in [QuantScheme::Q8, QuantScheme::Q4] {
            let q = QuantTensor::quantize(&w, m, k, scheme, 32).unwrap();
            let expected = naive(&x, &q.dequantize(), n, m, k);
            let mut y = vec![0.0; n * m];
            matmul(&x, &Matrix::Quant(q), Some(&vec![1.0; m]), &mut y, 2);
            for (a, b) in y.iter().zip(&expected) {
                assert!((a - (b + 1.0)).abs() < 1e-5, "{scheme:?}: {a} vs {}", b + 1.0);
            }
        }
    }
}
