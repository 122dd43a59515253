//! What every matmul kernel shares, whatever its weights hold: the register tile's shape (`MR` rows of `X` by
//! `NR` rows of `W`), how a finished tile is stored ([`store`], [`Columns`]), what the product's epilogue is,
//! how a kernel's plain product is finished under SwiGLU ([`finish`]), and how a matmul is cut into tasks for the
//! pool ([`run_grid`]). The f32 kernels (`crate::gemm`), the int8 kernels (`crate::int8`) and the int16 kernel
//! (`crate::int16`) build on this module; `gemm` chooses between them.

use std::cell::Cell;
use std::ops::Range;

use crate::math;
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

/// Which columns of the output segments a panel fills, their bias, and whether to add to what is there.
#[derive(Clone, Copy)]
pub(crate) struct Columns<'a> {
    pub first: usize,
    pub width: usize,
    pub bias: Option<&'a [f32]>,
    pub accumulate: bool,
}

/// Runs a kernel that stores the plain product of `panels` and finishes it by `epilogue`: under
/// [`Epilogue::SwiGlu`] the product goes to this thread's buffer first and only the activation to `rows`.
pub(crate) fn finish(
    epilogue: Epilogue,
    panels: &Range<usize>,
    rows: &mut [&mut [f32]],
    kernel: impl FnOnce(&mut [&mut [f32]]),
) {
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

thread_local! {
    /// A SwiGLU product's gate and up columns on this thread, reused by the next: no allocation, no page faults.
    static GATE_UP: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
