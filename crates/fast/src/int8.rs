//! q8/q4 matmuls on int8 dot products, for CPUs with AVX-512 VNNI (`vpdpbusd` on 256-bit vectors: 32
//! multiply-adds of bytes per instruction where an f32 FMA does 8).
//!
//! Each row of `x` is quantized per group of the weights' `group_size` columns to signed bytes with its
//! own f32 scale (symmetric, `max |x| → 127`), so a group's dot product is exact in i32 and costs one
//! conversion and two FMAs per group. `vpdpbusd` multiplies *unsigned* by signed bytes, so the weights are
//! stored offset to unsigned (q8 levels + 128, q4 nibbles as stored: levels + 8) and the offset comes back
//! out through each group's sum of quantized `x`:
//!
//! `Σ w·x = s_w · s_x · (Σ (level + offset) · q_x − offset · Σ q_x)`.
//!
//! The result differs from the dequantized f32 product by the quantization of `x` (relative error about
//! 1/254 of a group's largest |x| per term); the f32-weights path is unaffected. Weights are repacked into
//! this form once at load (q4 takes twice its file size in memory); other CPUs and wasm keep the
//! decode-to-f32 path in `gemm`.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ops::Range;

use half::f16;
use unmask_model::{QuantScheme, QuantTensor};

use crate::pool::Pool;
use crate::tile::{self, Epilogue, MR, NR};

/// Whether this CPU has the instructions the kernel needs.
pub fn available() -> bool {
    std::is_x86_feature_detected!("avx512vnni")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
}

/// A quantized weight matrix (`rows × cols`) repacked for the kernel: panels of `NR` rows, each `cols / 4`
/// quads of `NR × 4` unsigned bytes (row `j`'s levels `4q .. 4q + 4` at bytes `4j ..`), and each panel's scales
/// as `groups × NR` f32. Padding rows of the last panel are zero, scales included.
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    group_size: usize,
    /// Added to every level to make it unsigned: 128 for q8, 8 for q4.
    offset: i32,
    panels: Vec<u8>,
    scales: Vec<f32>,
}

impl Int8Matrix {
    pub fn new(q: &QuantTensor) -> Int8Matrix {
        let (rows, cols, group_size) = (q.rows, q.cols, q.group_size);
        let groups = cols / group_size;
        let panel_count = rows.div_ceil(NR);
        let mut panels = vec![0u8; panel_count * cols * NR];
        let mut scales = vec![0.0f32; panel_count * groups * NR];
        let offset = match q.scheme {
            QuantScheme::Q8 => 128,
            QuantScheme::Q4 => 8,
            QuantScheme::Q4A => unreachable!("q4a matrices stay on the f32 path (Matrix::for_this_cpu)"),
        };
        for r in 0..rows {
            let (p, j) = (r / NR, r % NR);
            let panel = &mut panels[p * cols * NR..][..cols * NR];
            for (c, level) in q.levels(r).enumerate() {
                panel[c / 4 * NR * 4 + j * 4 + c % 4] = (level + offset) as u8;
            }
            for g in 0..groups {
                scales[(p * groups + g) * NR + j] = f16::from_bits(q.scales[r * groups + g]).to_f32();
            }
        }
        Int8Matrix { rows, cols, group_size, offset, panels, scales }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn bytes(&self) -> usize {
        self.panels.len() + self.scales.len() * 4
    }

    /// Row `r` as f32, the values of the quantized tensor it was made from.
    pub fn row(&self, r: usize, out: &mut [f32]) {
        let (p, j) = (r / NR, r % NR);
        let groups = self.cols / self.group_size;
        let panel = &self.panels[p * self.cols * NR..][..self.cols * NR];
        for (c, out) in out[..self.cols].iter_mut().enumerate() {
            let level = i32::from(panel[c / 4 * NR * 4 + j * 4 + c % 4]) - self.offset;
            *out = level as f32 * self.scales[(p * groups + c / self.group_size) * NR + j];
        }
    }
}

/// `x` quantized per row and group, packed in blocks of `MR` rows: `values` as `k / 4` quads of `MR × 4`
/// signed bytes per block; `scales` and `corrections` (scale · offset · Σ quantized values) as
/// `groups × MR` per block.
#[derive(Default)]
struct QuantizedX {
    values: Vec<i8>,
    scales: Vec<f32>,
    corrections: Vec<f32>,
}

thread_local! {
    /// The last quantized `x` on this thread, reused by the next matmul.
    static QUANTIZED: Cell<QuantizedX> = Cell::new(QuantizedX::default());
}

/// `crate::gemm`'s `with_product` for int8 matrices: `x` quantized to bytes, then `run` gets the product of any share,
/// finished by `epilogue` (under [`Epilogue::SwiGlu`] each pair of panels, gate and up, is combined from the
/// tiles, before anything is stored). Callers check [`available`].
pub fn with_product(
    x: &[f32],
    w: &Int8Matrix,
    bias: Option<&[f32]>,
    epilogue: Epilogue,
    pool: &Pool,
    run: impl FnOnce(&tile::Product<'_>),
) {
    let k = w.cols;
    let mut quantized = QUANTIZED.take();
    quantize_x(x, k, w.group_size, w.offset, pool, &mut quantized);
    let q = &quantized;
    let groups = k / w.group_size;
    let wide = crate::math::avx512_full_width();
    let quads_per_group = w.group_size / 4;
    let block = |b: usize| Block {
        values: &q.values[b * k * MR..][..k * MR],
        scales: &q.scales[b * groups * MR..][..groups * MR],
        corrections: &q.corrections[b * groups * MR..][..groups * MR],
    };
    // Tiles of blocks `b..b + count` (one, or two where `wide`) against `panel`; `first` says the panel is new
    // to this task, so the tile fetches its weights ahead, as the f32 kernel does.
    let tiles = |b: usize, count: usize, panel: usize, first: bool| -> [[[f32; NR]; MR]; 2] {
        let weights = &w.panels[panel * k * NR..][..k * NR];
        let scales = &w.scales[panel * groups * NR..][..groups * NR];
        // SAFETY: callers check `available()`, which covers every feature `tile` enables, and `count` is 2
        // only where `wide`, set where the CPU runs AVX-512 at full width: all `tile_pair` adds.
        unsafe {
            match (count, first) {
                (2, true) => tile_pair::<true>([&block(b), &block(b + 1)], weights, scales, quads_per_group),
                (2, false) => tile_pair::<false>([&block(b), &block(b + 1)], weights, scales, quads_per_group),
                _ => [tile(&block(b), weights, scales, quads_per_group), [[0.0; NR]; MR]],
            }
        }
    };
    run(&|blocks: Range<usize>, panels: Range<usize>, rows: &mut [&mut [f32]]| {
        let step = if epilogue == Epilogue::SwiGlu { 2 } else { 1 };
        for p in (0..panels.len()).step_by(step) {
            let panel = panels.start + p;
            // One pass over the whole depth: it writes, with the bias.
            let columns = tile::columns(w.rows, bias, &panels, p, 0);
            let mut i = 0;
            while i < blocks.len() {
                // Pairs of blocks through the 512-bit tile (where `wide`), then the rest one at a time.
                let count = if wide && i + 1 < blocks.len() { 2 } else { 1 };
                let products = tiles(blocks.start + i, count, panel, i == 0);
                let ups = (epilogue == Epilogue::SwiGlu).then(|| tiles(blocks.start + i, count, panel + 1, i == 0));
                for (t, product) in products.iter().take(count).enumerate() {
                    let rows = &mut rows[(i + t) * MR..];
                    match &ups {
                        // SAFETY: callers check `available()`, which covers every feature `store_swiglu` enables.
                        Some(ups) => unsafe { store_swiglu(product, &ups[t], rows, p / 2 * NR) },
                        None => tile::store(product, rows, columns),
                    }
                }
                i += count;
            }
        }
    });
    QUANTIZED.set(quantized);
}

/// `silu(gate) · up` of two tiles into columns `first..first + NR` of the first `MR` of `rows` (fewer at the end
/// of `x`), compiled for the kernel's CPU so that the exponentials vectorize with fused multiply-adds.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
fn store_swiglu(gate: &[[f32; NR]; MR], up: &[[f32; NR]; MR], rows: &mut [&mut [f32]], first: usize) {
    for ((gate, up), row) in gate.iter().zip(up).zip(rows.iter_mut()) {
        let out: &mut [f32; NR] = (&mut row[first..][..NR]).try_into().expect("NR columns");
        crate::math::swiglu_lanes::<true>(gate, up, out);
    }
}

/// Quantizes every row of `x` (`n × k`) per group into `out`, in parallel over blocks of rows. Padding rows
/// of the last block are zero bytes with zero scales.
fn quantize_x(x: &[f32], k: usize, group_size: usize, offset: i32, pool: &Pool, out: &mut QuantizedX) {
    let n = x.len() / k;
    let (blocks, groups) = (n.div_ceil(MR), k / group_size);
    out.values.resize(blocks * k * MR, 0);
    out.scales.resize(blocks * groups * MR, 0.0);
    out.corrections.resize(blocks * groups * MR, 0.0);
    let per_task = pool.rows_per_task(blocks);
    let items: Vec<_> = out
        .values
        .chunks_mut(per_task * k * MR)
        .zip(out.scales.chunks_mut(per_task * groups * MR))
        .zip(out.corrections.chunks_mut(per_task * groups * MR))
        .zip(x.chunks(per_task * MR * k))
        .collect();
    pool.each(items, |_, (((values, scales), corrections), x)| {
        let share = Share { values, scales, corrections };
        // SAFETY: callers check `available()`, which covers every feature `quantize_share` enables.
        unsafe { quantize_share(share, x, k, group_size, offset) }
    });
}

/// One task's blocks of [`QuantizedX`].
struct Share<'a> {
    values: &'a mut [i8],
    scales: &'a mut [f32],
    corrections: &'a mut [f32],
}

/// Quantizes the rows `x` into `out`'s blocks; rows past the end of `x` (padding) become zeros. Compiled for
/// the int8 kernel's CPU so that rounding is an instruction, not a library call.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
fn quantize_share(out: Share, x: &[f32], k: usize, group_size: usize, offset: i32) {
    let groups = k / group_size;
    let rows = x.len() / k;
    let mut levels = vec![0i8; group_size];
    for i in 0..out.values.len() / (k * MR) * MR {
        let (b, r) = (i / MR, i % MR);
        let values = &mut out.values[b * k * MR..][..k * MR];
        for g in 0..groups {
            let at = (b * groups + g) * MR + r;
            let (scale, sum) = match x.get(i * k..(i + 1) * k) {
                Some(row) if i < rows => quantize_group(&row[g * group_size..][..group_size], &mut levels),
                _ => {
                    levels.fill(0);
                    (0.0, 0)
                }
            };
            // Quad c of the group goes to row r's four bytes of quad (g · group_size / 4 + c).
            for (c, quad) in levels.chunks_exact(4).enumerate() {
                values[(g * group_size / 4 + c) * MR * 4 + r * 4..][..4].copy_from_slice(quad);
            }
            out.scales[at] = scale;
            out.corrections[at] = scale * (offset * sum) as f32;
        }
    }
}

/// Levels round(v · 127 / max |v|) of one group (ties to even), its scale and the sum of its levels.
#[inline(always)]
fn quantize_group(group: &[f32], levels: &mut [i8]) -> (f32, i32) {
    // Four lanes, so that the reduction vectorizes (group sizes are multiples of 4).
    let mut lanes = [0.0f32; 4];
    for chunk in group.chunks_exact(4) {
        for j in 0..4 {
            lanes[j] = lanes[j].max(chunk[j].abs());
        }
    }
    let largest = lanes.iter().fold(0.0f32, |m, &v| m.max(v));
    let inverse = if largest > 0.0 { 127.0 / largest } else { 0.0 };
    let mut sum = 0i32;
    for (level, &v) in levels.iter_mut().zip(group) {
        // |v · inverse| ≤ 127 up to rounding, and `as` saturates.
        *level = (v * inverse).round_ties_even() as i8;
        sum += i32::from(*level);
    }
    (largest / 127.0, sum)
}

/// One block of quantized `x` (see [`QuantizedX`]).
struct Block<'a> {
    values: &'a [i8],
    scales: &'a [f32],
    corrections: &'a [f32],
}

/// One `MR × NR` tile over the whole depth: per group, i32 sums of byte products, then scaled into f32.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
fn tile(x: &Block, weights: &[u8], scales: &[f32], quads_per_group: usize) -> [[f32; NR]; MR] {
    use std::arch::x86_64::*;
    const HALF: usize = NR / 2;
    let groups = scales.len() / NR;
    let quads = groups * quads_per_group;
    assert!(weights.len() >= quads * NR * 4 && x.values.len() >= quads * MR * 4);
    assert!(x.scales.len() >= groups * MR && x.corrections.len() >= groups * MR);
    let mut sums = [[_mm256_setzero_ps(); 2]; MR];
    for g in 0..groups {
        let mut dots = [[_mm256_setzero_si256(); 2]; MR];
        for q in g * quads_per_group..(g + 1) * quads_per_group {
            // SAFETY: quad `q` is inside both slices (asserted above: q < quads); unaligned loads.
            let (w0, w1, xs) = unsafe {
                let w = weights.as_ptr().add(q * NR * 4);
                (
                    _mm256_loadu_si256(w.cast()),
                    _mm256_loadu_si256(w.add(HALF * 4).cast()),
                    x.values.as_ptr().add(q * MR * 4).cast::<i32>(),
                )
            };
            for (r, dots) in dots.iter_mut().enumerate() {
                // SAFETY: row r's four bytes of quad q, inside `x.values` as above.
                let quad = _mm256_set1_epi32(unsafe { xs.add(r).read_unaligned() });
                dots[0] = _mm256_dpbusd_epi32(dots[0], w0, quad);
                dots[1] = _mm256_dpbusd_epi32(dots[1], w1, quad);
            }
        }
        let group_scales = &scales[g * NR..][..NR];
        // SAFETY: two loads of 8 inside a slice of NR = 16.
        let weight_scales =
            unsafe { [_mm256_loadu_ps(group_scales.as_ptr()), _mm256_loadu_ps(group_scales.as_ptr().add(HALF))] };
        for (r, (sums, dots)) in sums.iter_mut().zip(&dots).enumerate() {
            let scale = _mm256_set1_ps(x.scales[g * MR + r]);
            let correction = _mm256_set1_ps(x.corrections[g * MR + r]);
            for h in 0..2 {
                let group = _mm256_fmsub_ps(_mm256_cvtepi32_ps(dots[h]), scale, correction);
                sums[h] = _mm256_fmadd_ps(group, weight_scales[h], sums[h]);
            }
        }
    }
    let mut out = [[0.0f32; NR]; MR];
    for (row, sums) in out.iter_mut().zip(&sums) {
        // SAFETY: two stores of 8 into a row of NR = 16.
        unsafe {
            _mm256_storeu_ps(row.as_mut_ptr(), sums[0]);
            _mm256_storeu_ps(row.as_mut_ptr().add(HALF), sums[1]);
        }
    }
    out
}

/// The 512-bit form of [`tile`]: one vector per row (all `NR` = 16 columns of a quad in one load), two blocks
/// of `x` (2·`MR` rows) at a time: 12 i32 and 12 f32 accumulators of the 32 registers.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
fn tile_pair<const PREFETCH: bool>(
    x: [&Block; 2],
    weights: &[u8],
    scales: &[f32],
    quads_per_group: usize,
) -> [[[f32; NR]; MR]; 2] {
    use std::arch::x86_64::*;
    let groups = scales.len() / NR;
    let quads = groups * quads_per_group;
    assert!(weights.len() >= quads * NR * 4);
    for x in x {
        assert!(x.values.len() >= quads * MR * 4);
        assert!(x.scales.len() >= groups * MR && x.corrections.len() >= groups * MR);
    }
    let mut sums = [[_mm512_setzero_ps(); MR]; 2];
    for g in 0..groups {
        let mut dots = [[_mm512_setzero_si512(); MR]; 2];
        for q in g * quads_per_group..(g + 1) * quads_per_group {
            // SAFETY: quad `q` is inside every slice (asserted above: q < quads); unaligned loads.
            let w = unsafe { _mm512_loadu_si512(weights.as_ptr().add(q * NR * 4).cast()) };
            if PREFETCH {
                // A page ahead: prefetches do not fault.
                _mm_prefetch::<_MM_HINT_T0>(weights.as_ptr().wrapping_add((q + 64) * NR * 4).cast());
            }
            for (x, dots) in x.iter().zip(&mut dots) {
                let xs = x.values[q * MR * 4..][..MR * 4].as_ptr().cast::<i32>();
                for (r, dot) in dots.iter_mut().enumerate() {
                    // SAFETY: row r's four bytes of quad q, inside the slice just taken.
                    let quad = _mm512_set1_epi32(unsafe { xs.add(r).read_unaligned() });
                    *dot = _mm512_dpbusd_epi32(*dot, w, quad);
                }
            }
        }
        // SAFETY: NR = 16 scales.
        let weight_scales = unsafe { _mm512_loadu_ps(scales[g * NR..][..NR].as_ptr()) };
        for ((x, sums), dots) in x.iter().zip(&mut sums).zip(&dots) {
            for (r, (sum, dot)) in sums.iter_mut().zip(dots).enumerate() {
                let scale = _mm512_set1_ps(x.scales[g * MR + r]);
                let correction = _mm512_set1_ps(x.corrections[g * MR + r]);
                let group = _mm512_fmsub_ps(_mm512_cvtepi32_ps(*dot), scale, correction);
                *sum = _mm512_fmadd_ps(group, weight_scales, *sum);
            }
        }
    }
    let mut out = [[[0.0f32; NR]; MR]; 2];
    for (out, sums) in out.iter_mut().zip(&sums) {
        for (row, sum) in out.iter_mut().zip(sums) {
            // SAFETY: a row is NR = 16 floats.
            unsafe { _mm512_storeu_ps(row.as_mut_ptr(), *sum) };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32 - 0.5)
            .collect()
    }

    /// The activation quantization as the module comment states it, written out plainly: per row and group,
    /// levels round(x · 127 / max |x|) (ties to even), values level · max |x| / 127.
    fn quantize_rows(x: &[f32], k: usize, group: usize) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        for (row, o) in x.chunks_exact(k).zip(out.chunks_exact_mut(k)) {
            for (g, o) in row.chunks_exact(group).zip(o.chunks_exact_mut(group)) {
                let largest = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                if largest > 0.0 {
                    for (v, o) in g.iter().zip(o) {
                        *o = (v * (127.0 / largest)).round_ties_even() * (largest / 127.0);
                    }
                }
            }
        }
        out
    }

    fn product(x: &[f32], w: &[f32], n: usize, m: usize, k: usize) -> Vec<f64> {
        let mut y = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                y[i * m + j] = (0..k).map(|c| x[i * k + c] as f64 * w[j * k + c] as f64).sum::<f64>();
            }
        }
        y
    }

    #[test]
    fn int8_products_match_the_quantized_operands_product() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        // Shapes off the tile (MR × NR), several groups, groups of 4 (one quad) up to 64.
        for (n, m, k, group) in [(1, 1, 8, 8), (7, 20, 64, 16), (13, 37, 96, 32), (6, 16, 128, 64), (19, 5, 12, 4)] {
            let (x, w) = (values(n * k, 1), values(m * k, 2));
            // A zero group of x, whose scale is zero.
            let mut x = x;
            x[..group].fill(0.0);
            for scheme in [QuantScheme::Q8, QuantScheme::Q4] {
                let group = if scheme == QuantScheme::Q4 { group.max(8) } else { group };
                if k % group != 0 {
                    continue;
                }
                let q = QuantTensor::quantize(&w, m, k, scheme, group).unwrap();
                let expected = product(&quantize_rows(&x, k, group), &q.dequantize(), n, m, k);
                let exact = product(&x, &q.dequantize(), n, m, k);
                let bias = values(m, 3);
                for threads in [1, 3] {
                    let mut y = vec![f32::NAN; n * m];
                    let w = gemm::Matrix::Int8(Int8Matrix::new(&q));
                    gemm::matmul(&x, &w, Some(&bias), &mut y, &Pool::new(threads));
                    for (i, ((a, b), e)) in y.iter().zip(&expected).zip(&exact).enumerate() {
                        let b = b + bias[i % m] as f64;
                        // The same quantized operands: only f32 rounding differs.
                        let what = format!("{scheme:?} {n}×{m}×{k}/{group}, {threads} threads, [{i}]");
                        assert!((*a as f64 - b).abs() < 1e-5 * (1.0 + b.abs()), "{what}: {a} vs {b}");
                        // And close to the product with x unquantized: 1/254 of |x| ≤ 0.5 per term at most.
                        let e = e + bias[i % m] as f64;
                        assert!((*a as f64 - e).abs() < k as f64 * 0.5 / 254.0 * 0.5, "{what}: {a} vs exact {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn fused_swiglu_matches_silu_times_up_of_the_quantized_operands() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        let silu = |g: f64| g / (1.0 + (-g).exp());
        // Pairs of blocks and a last partial block; three panels of gate and of up.
        let (n, inter, k, group) = (13, 3 * NR, 64, 16);
        let x = values(n * k, 4);
        for scheme in [QuantScheme::Q8, QuantScheme::Q4] {
            let quantized = |seed| QuantTensor::quantize(&values(inter * k, seed), inter, k, scheme, group).unwrap();
            // Seeds far apart: nearby seeds give nearly the same values.
            let (gate, up) = (quantized(5 << 20), quantized(6 << 20));
            let xq = quantize_rows(&x, k, group);
            let (g, u) = (product(&xq, &gate.dequantize(), n, inter, k), product(&xq, &up.dequantize(), n, inter, k));
            let w =
                gemm::Matrix::interleave_panels(gemm::Matrix::Quant(gate), gemm::Matrix::Quant(up)).for_this_cpu(false);
            assert!(matches!(w, gemm::Matrix::Int8(_)), "repacked for int8 dot products");
            for threads in [1, 3] {
                let mut y = vec![f32::NAN; n * inter];
                gemm::matmul_swiglu(&x, &w, &mut y, &Pool::new(threads));
                for (i, ((a, &g), &u)) in y.iter().zip(&g).zip(&u).enumerate() {
                    let b = silu(g) * u;
                    let what = format!("{scheme:?}, {threads} threads, [{i}]");
                    assert!((*a as f64 - b).abs() < 1e-5 * (1.0 + b.abs()), "{what}: {a} vs {b}");
                }
            }
        }
    }

    /// A q4a matrix runs on the f32 path, or requantized to q8 for the int8 kernel when asked: then its rows
    /// are the q8 quantization of the q4a values (groups alike).
    #[test]
    fn q4a_is_requantized_to_q8_only_when_asked() {
        let (m, k) = (19, 64);
        let q4a = QuantTensor::quantize(&values(m * k, 9), m, k, QuantScheme::Q4A, 32).unwrap();
        assert!(matches!(gemm::Matrix::Quant(q4a.clone()).for_this_cpu(false), gemm::Matrix::F32 { .. }));
        let requantized = gemm::Matrix::Quant(q4a.clone()).for_this_cpu(true);
        if !available() {
            return;
        }
        let gemm::Matrix::Int8(matrix) = requantized else { panic!("q4a goes to the int8 kernel when asked") };
        let q8 = QuantTensor::quantize(&q4a.dequantize(), m, k, QuantScheme::Q8, 32).unwrap().dequantize();
        let mut row = vec![0.0; k];
        for r in 0..m {
            matrix.row(r, &mut row);
            assert_eq!(row, q8[r * k..][..k], "row {r}");
        }
    }

    #[test]
    fn rows_read_back_the_quantized_values() {
        for scheme in [QuantScheme::Q8, QuantScheme::Q4] {
            let (m, k) = (19, 48);
            let q = QuantTensor::quantize(&values(m * k, 7), m, k, scheme, 16).unwrap();
            let (matrix, dequantized) = (Int8Matrix::new(&q), q.dequantize());
            let mut row = vec![0.0; k];
            for r in 0..m {
                matrix.row(r, &mut row);
                assert_eq!(row, dequantized[r * k..][..k], "{scheme:?} row {r}");
            }
        }
    }
}
