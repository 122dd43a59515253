//! `Y = X · Wᵀ (+ b)` for row-major `X` (`n × k`) and a weight matrix `W` (`m × k`, the Hugging Face layout)
//! stored as f32, q8 or q4.
//!
//! The kernel is an outer-product microkernel: a tile of `MR` rows of `X` by `NR` rows of `W` accumulates in
//! registers (12 vectors of 8 lanes on AVX2; 8 vectors of 4 lanes in wasm) while `k` advances one column at a
//! time, each step one broadcast per `X` row and vector loads of a *panel*: `NR` rows of `W` transposed to
//! `k × NR`, so its loads are contiguous. The 512-bit kernel reads the rows of `X` in place (`k` apart); the
//! others read `X` packed into blocks of `MR` rows, column-major within a block. f32 weights are packed into
//! panels at load; q8/q4 weights stay as stored (4× or 8× smaller) and each task decodes its share of panels
//! once per matmul, so quantization costs O(m · k) per matmul, not O(n · m · k). A task runs its panels over
//! every block of `X` in passes `KC` deep, so the panel slice stays in L1 while `X` streams past it from L2;
//! the 512-bit kernel makes one pass and prefetches each pair of panels in the first tile that reads it.
//!
//! The arithmetic is written as loops over fixed-size arrays that LLVM vectorizes: natively the kernel is
//! compiled a second time with AVX2 + FMA and chosen at run time; in wasm it becomes SIMD128 (the build
//! enables `simd128` for the wasm target). Where AVX-512 runs at full width, [`wide`] takes two blocks of `X`
//! by two panels at a time in 512-bit registers. Quantized matrices repacked for int8 dot products go to
//! `crate::int8`. [`matmul_swiglu`] applies SwiGLU inside the gate|up product.

use std::cell::Cell;
use std::ops::Range;

use crate::math;
pub use crate::matrix::Matrix;
use crate::matrix::share_panels;
use crate::pool::Pool;
use crate::tile::{Epilogue, MR, NR, Product, columns, finish, run_grid, store};

/// `out[n × m] = x[n × k] · Wᵀ + bias`, shared out over the pool's threads as a grid of tasks ([`run_grid`]).
pub fn matmul(x: &[f32], w: &Matrix, bias: Option<&[f32]>, out: &mut [f32], pool: &Pool) {
    debug_assert_eq!(out.len(), x.len() / w.cols() * w.rows());
    with_product(x, w, bias, Epilogue::Store, pool, |product| run_grid(out, w.rows(), pool, product));
}

/// `out[n × m/2] = silu(gate) · up` where `x · Wᵀ` holds gate and up panel by panel: `W`'s rows are gate rows
/// `0..NR`, up rows `0..NR`, gate rows `NR..2NR`, … ([`Matrix::interleave_panels`]). The `n × m` product is
/// never stored whole, and SwiGLU is not a pass of its own: the 512-bit and int8 kernels apply it to each
/// tile of gate and its tile of up, the packed kernels to each task's columns (`tile::finish`).
pub fn matmul_swiglu(x: &[f32], w: &Matrix, out: &mut [f32], pool: &Pool) {
    let width = w.rows() / 2;
    debug_assert!(width.is_multiple_of(NR) && out.len() == x.len() / w.cols() * width);
    with_product(x, w, None, Epilogue::SwiGlu, pool, |product| {
        run_grid(out, width, pool, |blocks, panels, rows| product(blocks, 2 * panels.start..2 * panels.end, rows))
    });
}

/// Prepares `x` for `w` the way this CPU's kernel reads it (in place, packed into blocks, or quantized to
/// int8) and hands `run` the product, finished by `epilogue`.
fn with_product(
    x: &[f32],
    w: &Matrix,
    bias: Option<&[f32]>,
    epilogue: Epilogue,
    pool: &Pool,
    run: impl FnOnce(&Product<'_>),
) {
    let k = w.cols();
    #[cfg(target_arch = "wasm32")]
    if let Matrix::Int16(w) = w {
        return crate::int16::with_product(x, w, bias, epilogue, pool, run);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if let Matrix::Int8(w) = w {
            return crate::int8::with_product(x, w, bias, epilogue, pool, run);
        }
        if math::avx512_full_width() {
            return run(&|blocks, panels, rows| {
                let x = &x[(blocks.start * MR * k).min(x.len())..(blocks.end * MR * k).min(x.len())];
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
                #[allow(unsafe_code)]
                unsafe {
                    blocked_wide(&Blocks::new(x, k), w, bias, panels, rows, epilogue)
                }
            });
        }
    }
    let mut packed = PACKED.take();
    pack_x(x, k, pool, &mut packed);
    let x = &packed;
    run(&|blocks, panels, rows| {
        let x = &x[blocks.start * k * MR..blocks.end * k * MR];
        finish(epilogue, &panels, rows, |rows| {
            math::dispatch_avx2!(matmul_panels_avx2, matmul_panels_portable(x, w, bias, panels.clone(), rows))
        })
    });
    PACKED.set(packed);
}

thread_local! {
    /// The last packed `x` (or, for the 512-bit kernel, the last partial block of rows) on this thread, reused
    /// by the next matmul: no allocation, no page faults.
    static PACKED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// `x` (`n × k`) into `packed` in blocks of `MR` rows, each transposed to `k × MR` so that a tile's `MR` values
/// of one column are adjacent (for the 256-bit and SIMD128 kernels: in wasm this measured 1.1–1.4× faster
/// than reading the rows in place). The padding rows of the last block keep whatever they held: a tile's
/// rows are independent, and padding rows are never stored.
fn pack_x(x: &[f32], k: usize, pool: &Pool, packed: &mut Vec<f32>) {
    let blocks = (x.len() / k).div_ceil(MR);
    packed.resize(blocks * k * MR, 0.0);
    let per_task = pool.rows_per_task(blocks);
    let items: Vec<_> = packed.chunks_mut(per_task * k * MR).zip(x.chunks(per_task * MR * k)).collect();
    pool.each(items, |_, (packed, x)| {
        for (i, row) in x.chunks_exact(k).enumerate() {
            let block = &mut packed[i / MR * k * MR..][..k * MR];
            for (p, &value) in row.iter().enumerate() {
                block[p * MR + i % MR] = value;
            }
        }
    });
}

/// The 512-bit kernel's view of a task's rows of `x` (`rows × k`, row-major): blocks of `MR` rows read in
/// place, no packing pass; a last, partial block is copied into `MR` rows of this thread's reused buffer,
/// so that every tile reads `MR` whole rows. The padding rows hold whatever the buffer held: a tile's rows
/// are independent, and padding rows are never stored.
#[cfg(target_arch = "x86_64")]
struct Blocks<'a> {
    x: &'a [f32],
    k: usize,
    full: usize,
    tail: Option<Vec<f32>>,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Blocks<'a> {
    fn new(x: &'a [f32], k: usize) -> Self {
        let rows = x.len() / k;
        let full = rows / MR;
        let tail = (!rows.is_multiple_of(MR)).then(|| {
            let mut tail = PACKED.take();
            // Padding rows keep what the buffer held (zeros where it grows).
            tail.resize(MR * k, 0.0);
            tail[..(rows - full * MR) * k].copy_from_slice(&x[full * MR * k..]);
            tail
        });
        Blocks { x, k, full, tail }
    }

    fn count(&self) -> usize {
        self.full + usize::from(self.tail.is_some())
    }

    /// Block `b`: `MR` rows.
    fn block(&self, b: usize) -> &[f32] {
        match &self.tail {
            Some(tail) if b == self.full => &tail[..MR * self.k],
            _ => &self.x[b * MR * self.k..(b + 1) * MR * self.k],
        }
    }

    /// Full blocks `b` and `b + 1`: `2 · MR` rows.
    fn pair(&self, b: usize) -> &[f32] {
        debug_assert!(b + 1 < self.full);
        &self.x[b * MR * self.k..(b + 2) * MR * self.k]
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for Blocks<'_> {
    /// The tail buffer goes back to the thread for the next matmul: no allocation, no page faults.
    fn drop(&mut self) {
        if let Some(tail) = self.tail.take() {
            PACKED.set(tail);
        }
    }
}

/// Depth of one pass over `k` for the packed kernels: a panel's slice (`KC × NR` floats, 16 KB natively)
/// stays in L1 while the blocks of `x` stream past it from L2. (Blocking the rows of `x` as well measured no
/// faster at these sizes. The 512-bit path prefetches instead and makes one pass.)
const KC: usize = 256;

fn matmul_panels_portable(x: &[f32], w: &Matrix, bias: Option<&[f32]>, share: Range<usize>, rows: &mut [&mut [f32]]) {
    blocked::<false>(x, w, bias, share, rows);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn matmul_panels_avx2(x: &[f32], w: &Matrix, bias: Option<&[f32]>, share: Range<usize>, rows: &mut [&mut [f32]]) {
    blocked::<true>(x, w, bias, share, rows);
}

/// The loop nest around the tile: `KC`-deep passes over `k`, each running every panel of the share against
/// every block of packed `x`.
#[inline(always)]
fn blocked<const FMA: bool>(x: &[f32], w: &Matrix, bias: Option<&[f32]>, share: Range<usize>, rows: &mut [&mut [f32]]) {
    let k = w.cols();
    let panels = share_panels(w, &share);
    let blocks = x.len() / (k * MR);
    for k0 in (0..k).step_by(KC) {
        let depth = KC.min(k - k0);
        for (p, panel) in panels.chunks_exact(k * NR).enumerate() {
            let columns = columns(w.rows(), bias, &share, p, k0);
            let panel = &panel[k0 * NR..][..depth * NR];
            for b in 0..blocks {
                let block = &x[b * k * MR + k0 * MR..][..depth * MR];
                store(&tile::<FMA>(block, panel, depth), &mut rows[b * MR..], columns);
            }
        }
    }
}

/// The 512-bit loop nest: every panel of the share against every block of `x`, two panels by two blocks at
/// a time where it can (a 12 × 32 tile: 24 accumulators, two panel loads and twelve broadcasts per column of
/// `k`); an odd last panel and a last single block take the same kernel with one panel or one block. Unlike
/// [`blocked`] it runs the whole depth in one pass (no `KC`): the first tile of each pair of panels
/// prefetches them a page ahead of its loads, the others find them in L1 or L2, and every tile is stored
/// once. Under [`Epilogue::SwiGlu`] each pair is a gate panel and its up panel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn blocked_wide(
    x: &Blocks,
    w: &Matrix,
    bias: Option<&[f32]>,
    share: Range<usize>,
    rows: &mut [&mut [f32]],
    epilogue: Epilogue,
) {
    let k = w.cols();
    let panels = share_panels(w, &share);
    let count = panels.len() / (k * NR);
    let paired = x.full / 2 * 2;
    let panel = |p: usize| &panels[p * k * NR..][..k * NR];
    for p in (0..count).step_by(2) {
        let cols = match epilogue {
            Epilogue::Store => {
                [columns(w.rows(), bias, &share, p, 0), columns(w.rows(), bias, &share, (p + 1).min(count - 1), 0)]
            }
            Epilogue::SwiGlu => {
                [crate::tile::Columns { first: p / 2 * NR, width: NR, bias: None, accumulate: false }; 2]
            }
        };
        if p + 1 < count {
            let pair = [panel(p), panel(p + 1)];
            for b in (0..paired).step_by(2) {
                let rows = &mut rows[b * MR..];
                if b == 0 {
                    wide::tiles::<2, 2, true>(x.pair(b), k, pair, rows, cols, epilogue);
                } else {
                    wide::tiles::<2, 2, false>(x.pair(b), k, pair, rows, cols, epilogue);
                }
            }
            for b in paired..x.count() {
                wide::tiles::<2, 1, false>(x.block(b), k, pair, &mut rows[b * MR..], cols, epilogue);
            }
        } else {
            debug_assert!(epilogue == Epilogue::Store, "gate|up panels come in pairs");
            let single = [panel(p); 2];
            for b in (0..paired).step_by(2) {
                wide::tiles::<1, 2, false>(x.pair(b), k, single, &mut rows[b * MR..], cols, epilogue);
            }
            for b in paired..x.count() {
                wide::tiles::<1, 1, false>(x.block(b), k, single, &mut rows[b * MR..], cols, epilogue);
            }
        }
    }
}

/// One `MR × NR` tile: a block of packed `x` (`depth × MR`) times a panel (`depth × NR`). `FMA` selects fused
/// multiply-add (only where the CPU has it: without hardware support `mul_add` is a slow library call).
#[inline(always)]
fn tile<const FMA: bool>(a: &[f32], panel: &[f32], depth: usize) -> [[f32; NR]; MR] {
    let mut acc = [[0.0f32; NR]; MR];
    for (a, b) in a[..depth * MR].chunks_exact(MR).zip(panel[..depth * NR].chunks_exact(NR)) {
        let a: &[f32; MR] = a.try_into().expect("MR-wide chunk");
        let b: &[f32; NR] = b.try_into().expect("NR-wide chunk");
        for r in 0..MR {
            for j in 0..NR {
                acc[r][j] = if FMA { a[r].mul_add(b[j], acc[r][j]) } else { acc[r][j] + a[r] * b[j] };
            }
        }
    }
    acc
}

/// The 512-bit tiles: one vector per row of a panel (`NR` = 16 lanes), one or two blocks of `x` (`MR` rows
/// each, `k` apart) by one or two panels, 6 to 24 accumulators.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod wide {
    use crate::math;
    use crate::tile::{Columns, Epilogue, MR, NR};
    use std::arch::x86_64::*;

    /// How far ahead of its loads a prefetching tile fetches its panels, in columns of `k`: 64 × 64 bytes, one
    /// page, since the hardware's stream prefetchers stop at page boundaries (48 to 128 measured alike, 4 %
    /// faster than none with the weights coming from L3).
    const PREFETCH_COLUMNS: usize = 64;

    /// `B` blocks of `x` (1 or 2) against `P` panels (1 or 2; `panels[1]` and `columns[1]` are ignored when
    /// `P` is 1) over the whole depth `k`, into the first `B · MR` of `rows` (fewer at the end of `x`) at
    /// `columns`, straight from the registers. `PREFETCH` fetches the panels ahead of the loads, for the
    /// first tile that reads them. Rows are read through four pointers three rows apart, plus `k` and `2k`
    /// (LLVM turns these into one chain of adds; assembly with x86 scaled addressing measured no faster).
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub fn tiles<const P: usize, const B: usize, const PREFETCH: bool>(
        x: &[f32],
        k: usize,
        panels: [&[f32]; 2],
        rows: &mut [&mut [f32]],
        columns: [Columns; 2],
        epilogue: Epilogue,
    ) {
        assert!(x.len() >= B * MR * k && panels.iter().all(|p| p.len() >= k * NR));
        let mut acc = [[_mm512_setzero_ps(); 2]; 2 * MR];
        let mut bases = [x.as_ptr(); 4];
        for (i, base) in bases.iter_mut().enumerate().take(2 * B) {
            *base = x[3 * i * k..].as_ptr();
        }
        let mut panel = panels.map(<[f32]>::as_ptr);
        for _ in 0..k {
            // SAFETY: rows of `x` hold `k` floats from the pointers' start (asserted: `B · MR` rows of `k`),
            // and each panel `k × NR`; every pointer advances once per column. Prefetches do not fault.
            unsafe {
                let mut w = [_mm512_setzero_ps(); 2];
                for p in 0..P {
                    w[p] = _mm512_loadu_ps(panel[p]);
                    if PREFETCH {
                        _mm_prefetch::<_MM_HINT_T0>(panel[p].wrapping_add(PREFETCH_COLUMNS * NR).cast());
                    }
                }
                for (i, base) in bases.iter().enumerate().take(2 * B) {
                    for (j, offset) in [0, k, 2 * k].into_iter().enumerate() {
                        let a = _mm512_set1_ps(*base.add(offset));
                        for p in 0..P {
                            acc[i * 3 + j][p] = _mm512_fmadd_ps(a, w[p], acc[i * 3 + j][p]);
                        }
                    }
                }
                bases = bases.map(|r| r.add(1));
                panel = panel.map(|p| p.add(NR));
            }
        }
        for (acc, row) in acc.iter().zip(rows.iter_mut()).take(B * MR) {
            if epilogue == Epilogue::SwiGlu {
                let (mut gate, mut up) = ([0.0f32; NR], [0.0f32; NR]);
                // SAFETY: each array holds one vector.
                unsafe {
                    _mm512_storeu_ps(gate.as_mut_ptr(), acc[0]);
                    _mm512_storeu_ps(up.as_mut_ptr(), acc[1]);
                }
                let out: &mut [f32; NR] = (&mut row[columns[0].first..][..NR]).try_into().expect("NR columns");
                math::swiglu_lanes::<true>(&gate, &up, out);
                continue;
            }
            for (&acc, columns) in acc.iter().zip(&columns).take(P) {
                let Columns { first, width, bias, accumulate } = *columns;
                debug_assert!(!accumulate, "one pass over k");
                let y = &mut row[first..][..width];
                // Lanes past `width` (a narrow last panel) are masked: neither read nor written.
                let mask: __mmask16 = if width >= NR { !0 } else { (1 << width) - 1 };
                // SAFETY: the masked lanes are within `y` and `bias`, both `width` floats long.
                unsafe {
                    let value = match bias {
                        Some(bias) => _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, bias.as_ptr())),
                        None => acc,
                    };
                    _mm512_mask_storeu_ps(y.as_mut_ptr(), mask, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unmask_model::{QuantScheme, QuantTensor};

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
        // Shapes not a multiple of the tile, more rows than tasks and fewer, and k deeper than one pass (KC).
        for (n, m, k) in
            [(1, 1, 1), (3, 5, 7), (5, 9, 33), (17, 6, 64), (2, 4, 8), (13, 37, 300), (7, 20, 600), (27, 70, 520)]
        {
            let (x, w) = (values(n * k, 1), values(m * k, 2));
            for threads in [1, 3] {
                let mut y = vec![f32::NAN; n * m];
                matmul(&x, &Matrix::f32(m, k, &w), None, &mut y, &Pool::new(threads));
                let expected = naive(&x, &w, n, m, k);
                for (a, b) in y.iter().zip(&expected) {
                    // f32 sums of up to 600 terms against f64: a relative bound.
                    assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{n}×{m}×{k}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn fused_swiglu_matches_the_product_then_silu_times_up() {
        let silu = |g: f64| g / (1.0 + (-g).exp());
        for (n, inter, k) in [(1, NR, 8), (13, 3 * NR, 40), (27, 5 * NR, 296)] {
            let x = values(n * k, 5);
            let schemes = [
                (None, 1),
                (None, 3),
                (Some(QuantScheme::Q8), 2),
                (Some(QuantScheme::Q4), 1),
                (Some(QuantScheme::Q4A), 2),
            ];
            for (scheme, threads) in schemes {
                let matrix = |seed| {
                    let w = values(inter * k, seed);
                    match scheme {
                        None => (Matrix::f32(inter, k, &w), w),
                        Some(scheme) => {
                            let q = QuantTensor::quantize(&w, inter, k, scheme, 8).unwrap();
                            let exact = q.dequantize();
                            (Matrix::Quant(q), exact)
                        }
                    }
                };
                let ((gate, gate_values), (up, up_values)) = (matrix(6 << 20), matrix(7 << 20));
                let (g, u) = (naive(&x, &gate_values, n, inter, k), naive(&x, &up_values, n, inter, k));
                let mut y = vec![f32::NAN; n * inter];
                matmul_swiglu(&x, &Matrix::interleave_panels(gate, up), &mut y, &Pool::new(threads));
                for ((a, &g), &u) in y.iter().zip(&g).zip(&u) {
                    let b = silu(g as f64) * u as f64;
                    assert!((*a as f64 - b).abs() < 1e-5 * (1.0 + b.abs()), "{scheme:?} {n}×{inter}×{k}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn quantized_weights_match_their_dequantized_product() {
        let (n, m, k) = (7, 10, 320);
        let (x, w) = (values(n * k, 3), values(m * k, 4));
        for scheme in QuantScheme::ALL {
            let q = QuantTensor::quantize(&w, m, k, scheme, 32).unwrap();
            let expected = naive(&x, &q.dequantize(), n, m, k);
            let mut y = vec![0.0; n * m];
            matmul(&x, &Matrix::Quant(q), Some(&vec![1.0; m]), &mut y, &Pool::new(2));
            for (a, b) in y.iter().zip(&expected) {
                assert!((a - (b + 1.0)).abs() < 1e-5 * (1.0 + b.abs()), "{scheme:?}: {a} vs {}", b + 1.0);
            }
        }
    }
}
