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

/// Rows of `X` per register tile.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const MR: usize = 6;
/// Rows of `W` per panel (columns of `Y` per tile): two 8-lane vectors.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const NR: usize = 16;
// SIMD128 vectors have 4 lanes and the engines that run wasm keep 16 of them in registers: a 4 × 8 tile is
// 8 accumulators, two panel loads and a broadcast, so nothing spills (the native 6 × 16 tile would need 24
// vectors; in Chromium 4 × 8 measured 1.4× faster at 256 tokens, 1.75× at 64).
#[cfg(target_arch = "wasm32")]
pub(crate) const MR: usize = 4;
#[cfg(target_arch = "wasm32")]
pub(crate) const NR: usize = 8;

/// `out[n × m] = x[n × k] · Wᵀ + bias`, shared out over the pool's threads as a grid of tasks ([`run_grid`]).
pub fn matmul(x: &[f32], w: &Matrix, bias: Option<&[f32]>, out: &mut [f32], pool: &Pool) {
    debug_assert_eq!(out.len(), x.len() / w.cols() * w.rows());
    with_product(x, w, bias, Epilogue::Store, pool, |product| run_grid(out, w.rows(), pool, product));
}

/// `out[n × m/2] = silu(gate) · up` where `x · Wᵀ` holds gate and up panel by panel: `W`'s rows are gate rows
/// `0..NR`, up rows `0..NR`, gate rows `NR..2NR`, … ([`Matrix::interleave_panels`]). The `n × m` product is
/// never stored whole, and SwiGLU is not a pass of its own: the 512-bit and int8 kernels apply it to each
/// tile of gate and its tile of up, the packed kernels to each task's columns ([`finish`]).
pub fn matmul_swiglu(x: &[f32], w: &Matrix, out: &mut [f32], pool: &Pool) {
    let width = w.rows() / 2;
    debug_assert!(width.is_multiple_of(NR) && out.len() == x.len() / w.cols() * width);
    with_product(x, w, None, Epilogue::SwiGlu, pool, |product| {
        run_grid(out, width, pool, |blocks, panels, rows| product(blocks, 2 * panels.start..2 * panels.end, rows))
    });
}

/// What a product writes into its rows of `out`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Epilogue {
    /// The product's columns (plus the bias).
    Store,
    /// `silu(gate) · up` of panel-interleaved gate|up columns: `NR` columns for every two panels.
    SwiGlu,
}

/// A matmul whose input is ready: `product(blocks, panels, rows)` computes blocks × panels of `W` into `rows`
/// (row segments starting at the first panel's column; half as many columns under [`Epilogue::SwiGlu`]),
/// for [`run_grid`].
pub(crate) type Product<'a> = dyn Fn(Range<usize>, Range<usize>, &mut [&mut [f32]]) + Sync + 'a;

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

/// Runs a kernel that stores the plain product of `panels` and finishes it by `epilogue`: under
/// [`Epilogue::SwiGlu`] the product goes to this thread's buffer first and only the activation to `rows`.
fn finish(epilogue: Epilogue, panels: &Range<usize>, rows: &mut [&mut [f32]], kernel: impl FnOnce(&mut [&mut [f32]])) {
    if epilogue == Epilogue::Store {
        return kernel(rows);
    }
    let per_row = panels.len() * NR;
    let mut buffer = GATE_UP.take();
    buffer.resize(rows.len() * per_row, 0.0);
    let mut gate_up: Vec<&mut [f32]> = buffer.chunks_exact_mut(per_row).collect();
    kernel(&mut gate_up);
    for (gate_up, out) in gate_up.iter().zip(rows.iter_mut()) {
        math::swiglu_rows(gate_up, out, NR);
    }
    GATE_UP.set(buffer);
}

/// Cuts `out` (`n × m`) into a grid of tasks and runs them on the pool: groups of panels of `W` (columns of
/// `out`) first, so that each task reads (and, quantized, decodes) only its share of the weights, and groups
/// of `MR`-row blocks of `x` too when there are fewer panels than tasks. `task(blocks, panels, rows)` gets
/// each of its rows of `out` cut to its panels' columns.
pub(crate) fn run_grid(
    out: &mut [f32],
    m: usize,
    pool: &Pool,
    task: impl Fn(Range<usize>, Range<usize>, &mut [&mut [f32]]) + Sync,
) {
    let n = out.len() / m;
    let grid = Grid::new(m.div_ceil(NR), n.div_ceil(MR), pool.threads());
    // Each row of `out` cut at the column groups' bounds; task (r, c) gets segment c of the rows of group r.
    let per_group = grid.blocks_per_group * MR;
    let mut shares: Vec<Vec<&mut [f32]>> = (0..grid.tasks()).map(|_| Vec::with_capacity(per_group)).collect();
    for (i, row) in out.chunks_exact_mut(m).enumerate() {
        let group = i / MR / grid.blocks_per_group;
        let mut rest = row;
        for (c, share) in shares[group * grid.column_groups..][..grid.column_groups].iter_mut().enumerate() {
            let columns = grid.panels(c);
            let (segment, tail) = rest.split_at_mut((columns.end * NR).min(m) - columns.start * NR);
            share.push(segment);
            rest = tail;
        }
    }
    pool.each(shares, |t, mut rows| {
        let (r, c) = (t / grid.column_groups, t % grid.column_groups);
        task(grid.blocks(r), grid.panels(c), &mut rows);
    });
}

/// How a matmul is cut into tasks: `column_groups` groups of panels times groups of `blocks_per_group` blocks
/// of `MR` rows of `x`.
#[derive(Clone, Copy)]
struct Grid {
    panels: usize,
    panels_per_group: usize,
    column_groups: usize,
    blocks: usize,
    blocks_per_group: usize,
}

impl Grid {
    /// About four tasks per thread (a thread that started late still finds work), cut so that the threads
    /// finish together: of the ways to group the panels, the one whose tasks, claimed in order by whichever
    /// thread is free, keep the busiest thread shortest; among those, the most column groups (each task reads
    /// the fewest weights). Model A's 44 panels of gate|up, for one, go in 4 groups of 11 by 2 groups of rows,
    /// not 7 groups of 6 and one of 2.
    fn new(panels: usize, blocks: usize, threads: usize) -> Grid {
        if threads == 1 {
            return Grid::cut(panels, blocks, 1, 1);
        }
        let tasks = 4 * threads;
        (1..=tasks.min(panels).max(1))
            .map(|groups| Grid::cut(panels, blocks, groups, tasks))
            .min_by_key(|grid| (grid.busiest_thread(threads), std::cmp::Reverse(grid.column_groups)))
            .expect("at least one way to cut")
    }

    /// Panels in about `groups` groups, and as many groups of rows as make about `tasks` tasks.
    fn cut(panels: usize, blocks: usize, groups: usize, tasks: usize) -> Grid {
        let panels_per_group = panels.div_ceil(groups).max(1);
        let column_groups = panels.div_ceil(panels_per_group).max(1);
        let row_groups = tasks.div_ceil(column_groups).clamp(1, blocks.max(1));
        let blocks_per_group = blocks.div_ceil(row_groups).max(1);
        Grid { panels, panels_per_group, column_groups, blocks, blocks_per_group }
    }

    /// The work (in tiles of one panel by one block) of the busiest of `threads` when each task goes, in
    /// order, to the least busy thread: how the pool's threads claim them.
    fn busiest_thread(&self, threads: usize) -> usize {
        let mut work = vec![0; threads];
        for t in 0..self.tasks() {
            let (r, c) = (t / self.column_groups, t % self.column_groups);
            let least = work.iter_mut().min().expect("at least one thread");
            *least += self.panels(c).len() * self.blocks(r).len();
        }
        work.into_iter().max().unwrap_or(0)
    }

    fn tasks(&self) -> usize {
        self.column_groups * self.blocks.div_ceil(self.blocks_per_group).max(1)
    }

    fn panels(&self, group: usize) -> std::ops::Range<usize> {
        group * self.panels_per_group..((group + 1) * self.panels_per_group).min(self.panels)
    }

    fn blocks(&self, group: usize) -> std::ops::Range<usize> {
        group * self.blocks_per_group..((group + 1) * self.blocks_per_group).min(self.blocks)
    }
}

thread_local! {
    /// The last packed `x` (or, for the 512-bit kernel, the last partial block of rows) on this thread, reused
    /// by the next matmul: no allocation, no page faults.
    static PACKED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// A [`matmul_swiglu`] task's gate and up columns, reused likewise.
    static GATE_UP: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
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

/// The columns panel `p` of the share (of a matrix of `rows` rows) fills in pass `k0` (the first pass writes
/// and adds the bias, later ones add).
pub(crate) fn columns<'a>(
    rows: usize,
    bias: Option<&'a [f32]>,
    share: &Range<usize>,
    p: usize,
    k0: usize,
) -> Columns<'a> {
    let first = (share.start + p) * NR;
    let width = NR.min(rows - first);
    Columns {
        first: p * NR,
        width,
        bias: bias.filter(|_| k0 == 0).map(|b| &b[first..first + width]),
        accumulate: k0 > 0,
    }
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
            Epilogue::SwiGlu => [Columns { first: p / 2 * NR, width: NR, bias: None, accumulate: false }; 2],
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

/// Which columns of the output segments a panel fills, their bias, and whether to add to what is there.
#[derive(Clone, Copy)]
pub(crate) struct Columns<'a> {
    pub first: usize,
    pub width: usize,
    pub bias: Option<&'a [f32]>,
    pub accumulate: bool,
}

/// A tile into the first `MR` of `rows` (fewer at the end of `x`: `rows` says how many are real).
#[inline(always)]
pub(crate) fn store(acc: &[[f32; NR]; MR], rows: &mut [&mut [f32]], columns: Columns) {
    let Columns { first, width, bias, accumulate } = columns;
    for (acc, row) in acc.iter().zip(rows.iter_mut()) {
        let y = &mut row[first..][..width];
        // A full tile is fixed-size (a few vector stores), not a call to memcpy.
        match <&mut [f32; NR]>::try_from(&mut *y) {
            Ok(y) if accumulate => {
                for j in 0..NR {
                    y[j] += acc[j];
                }
            }
            Ok(y) => *y = *acc,
            Err(_) if accumulate => {
                for (y, a) in y.iter_mut().zip(acc) {
                    *y += a;
                }
            }
            Err(_) => y.copy_from_slice(&acc[..width]),
        }
        if let Some(bias) = bias {
            for (y, b) in y.iter_mut().zip(bias) {
                *y += b;
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
    use super::{Columns, Epilogue, MR, NR};
    use crate::math;
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
    fn grids_keep_the_threads_equally_busy() {
        // Panels × blocks of 6 rows of the models' matmuls at 64, 256 and 1024 tokens (and the one-row head).
        for panels in [16, 32, 44, 64, 88, 256, 512] {
            for blocks in [1, 11, 43, 171] {
                for threads in [2, 3, 4] {
                    let grid = Grid::new(panels, blocks, threads);
                    let even = (panels * blocks).div_ceil(threads);
                    let busiest = grid.busiest_thread(threads);
                    // Within 5 % of an even split, or one tile row when there is too little to cut finer.
                    assert!(
                        busiest * 100 <= even * 105 || busiest <= even + panels.min(blocks),
                        "{panels} panels × {blocks} blocks on {threads} threads: {busiest} vs {even}"
                    );
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
