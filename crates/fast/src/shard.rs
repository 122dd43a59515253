//! One model split over several workers that each hold a slice of every matrix (tensor parallelism).
//!
//! In the browser a wasm instance has one thread (threads need shared wasm memory, which the stable
//! toolchain's standard library is not built for), but several Web Workers can each run one instance. So a
//! model is cut into shards: shard *i* of *n* keeps rows `i·r/n ..` (whole panels) of every projection and of
//! the head, multiplies only those (output columns of the product), and the shards then swap their columns
//! through an [`Exchange`] so that each holds the whole product again. Everything between the products (norms,
//! RoPE, attention, SwiGLU, the low-rank updates) is cheap and every shard computes it whole, so all shards
//! keep the same residual stream and cache, and each output column is computed exactly as in the whole model.

use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Which slice of the model this is: shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole model.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Rows `range` of a matrix of `rows` that shard `index` holds: whole units of `align` rows (a kernel
    /// panel), as evenly as they go; the shards' ranges cover `0..rows` in order.
    fn range_of(index: usize, count: usize, rows: usize, align: usize) -> Range<usize> {
        let units = rows.div_ceil(align);
        let at = |i: usize| (units * i / count * align).min(rows);
        at(index)..at(index + 1)
    }
}

/// How the shards of one model swap their parts of a product. Every shard calls
/// [`all_gather`](Exchange::all_gather) the same number of times in the same order (they run the same
/// forward pass over the same canvases).
pub trait Exchange: Send {
    /// The most floats one `all_gather` carries, all shards' blocks together.
    fn capacity(&self) -> usize;

    /// This shard's block `mine` in; returns with `out` holding every shard's block back to back in shard
    /// order (shard *j*'s is `lens[j]` floats). Fails instead of waiting for ever when a shard stops answering.
    fn all_gather(&mut self, mine: &[f32], lens: &[usize], out: &mut [f32]) -> Result<(), String>;

    /// Tells the other shards that this one failed a pass half way and will not arrive, so that they fail
    /// too instead of waiting (an exchange that cannot tell them does nothing).
    fn abandon(&mut self) {}
}

/// Where the shards' output columns of one product lie: shard *j* computes columns `ranges[j]` of `width`.
#[derive(Clone, Debug)]
pub(crate) struct Split {
    pub width: usize,
    pub ranges: Vec<Range<usize>>,
    pub index: usize,
}

impl Split {
    pub fn new(shard: Shard, width: usize, align: usize) -> Split {
        let ranges = (0..shard.count).map(|j| Shard::range_of(j, shard.count, width, align)).collect();
        Split { width, ranges, index: shard.index }
    }

    /// This shard's columns.
    pub fn mine(&self) -> Range<usize> {
        self.ranges[self.index].clone()
    }

    /// Puts the whole `rows × width` product in `full` from this shard's `rows × mine().len()` part, through
    /// the exchange in as many calls as its capacity needs (`scratch` holds one call's blocks).
    pub fn gather(
        &self,
        exchange: &mut dyn Exchange,
        part: &[f32],
        full: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> Result<(), String> {
        let width = self.width;
        let rows = full.len() / width;
        let mine = self.mine().len();
        debug_assert_eq!(part.len(), rows * mine);
        let per_call = (exchange.capacity() / width).max(1);
        if exchange.capacity() < width {
            return Err(format!("the exchange carries {} floats, less than one row of {width}", exchange.capacity()));
        }
        let mut first = 0;
        while first < rows {
            let n = per_call.min(rows - first);
            let lens: Vec<usize> = self.ranges.iter().map(|r| r.len() * n).collect();
            scratch.clear();
            scratch.resize(n * width, 0.0);
            exchange.all_gather(&part[first * mine..][..n * mine], &lens, scratch)?;
            // Shard j's block is its columns of these n rows, row-major.
            let mut block = scratch.as_slice();
            for range in &self.ranges {
                let (this, rest) = block.split_at(range.len() * n);
                block = rest;
                if range.is_empty() {
                    continue;
                }
                for (r, values) in this.chunks_exact(range.len()).enumerate() {
                    full[(first + r) * width + range.start..][..range.len()].copy_from_slice(values);
                }
            }
            first += n;
        }
        Ok(())
    }
}

/// The shards of a model on threads of one process, which share memory: each writes its block into its own
/// slot, and a barrier separates writing from reading (and reading from the next write).
pub struct ThreadExchange {
    index: usize,
    shared: Arc<Shared>,
}

struct Shared {
    count: usize,
    /// (shards arrived at the barrier, barriers passed, a shard abandoned the model).
    barrier: Mutex<(usize, u64, bool)>,
    opened: Condvar,
    blocks: Vec<Mutex<Vec<f32>>>,
}

/// How long a shard waits for the others before it fails: a panicked thread must not hang its siblings.
const PATIENCE: Duration = Duration::from_secs(30);

impl ThreadExchange {
    /// One exchange per shard of `count`, to move to each shard's thread.
    pub fn group(count: usize) -> Vec<ThreadExchange> {
        let shared = Arc::new(Shared {
            count,
            barrier: Mutex::new((0, 0, false)),
            opened: Condvar::new(),
            blocks: (0..count).map(|_| Mutex::new(Vec::new())).collect(),
        });
        (0..count).map(|index| ThreadExchange { index, shared: Arc::clone(&shared) }).collect()
    }

    fn barrier(&self) -> Result<(), String> {
        const POISONED: &str = "a shard's thread panicked";
        let mut state = self.shared.barrier.lock().map_err(|_| POISONED)?;
        let passed = state.1;
        state.0 += 1;
        if state.0 == self.shared.count {
            *state = (0, passed + 1, state.2);
            self.shared.opened.notify_all();
        }
        // (The clock is read only when waiting: a lone shard never does, which is all wasm can run.)
        let mut deadline = None;
        while state.1 == passed {
            if state.2 {
                return Err("another shard failed".into());
            }
            let left =
                deadline.get_or_insert_with(|| Instant::now() + PATIENCE).saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("the other shards did not arrive within {} s", PATIENCE.as_secs()));
            }
            state = self.shared.opened.wait_timeout(state, left).map_err(|_| POISONED)?.0;
        }
        Ok(())
    }
}

impl Exchange for ThreadExchange {
    fn capacity(&self) -> usize {
        usize::MAX
    }

    fn all_gather(&mut self, mine: &[f32], lens: &[usize], out: &mut [f32]) -> Result<(), String> {
        let lock = |j: usize| self.shared.blocks[j].lock().map_err(|_| "a shard's thread panicked".to_string());
        {
            let mut block = lock(self.index)?;
            block.clear();
            block.extend_from_slice(mine);
        }
        self.barrier()?;
        let mut at = 0;
        for (j, &len) in lens.iter().enumerate() {
            let block = lock(j)?;
            if block.len() != len {
                return Err(format!("shard {j} sent {} floats, {len} expected", block.len()));
            }
            out[at..at + len].copy_from_slice(&block);
            at += len;
        }
        self.barrier()
    }

    fn abandon(&mut self) {
        if let Ok(mut state) = self.shared.barrier.lock() {
            state.2 = true;
            self.shared.opened.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_ranges_cover_the_rows_in_whole_panels() {
        for (rows, count) in [(896, 2), (4864, 3), (151_936, 4), (40, 3), (8, 4), (17, 2)] {
            let ranges: Vec<_> = (0..count).map(|i| Shard::range_of(i, count, rows, 8)).collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[count - 1].end, rows);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!(pair[0].end % 8 == 0, "{rows} rows over {count}: {ranges:?}");
            }
        }
        // 8 rows over 4 shards in panels of 8: one shard takes the panel, the others nothing.
        let lens: Vec<usize> = (0..4).map(|i| Shard::range_of(i, 4, 8, 8).len()).collect();
        assert_eq!(lens.iter().sum::<usize>(), 8);
    }

    #[test]
    fn gathered_columns_are_the_whole_product() {
        // A 5 × 20 product over 3 shards in panels of 4, through an exchange that carries two rows a call.
        struct Small(ThreadExchange);
        impl Exchange for Small {
            fn capacity(&self) -> usize {
                40
            }
            fn all_gather(&mut self, mine: &[f32], lens: &[usize], out: &mut [f32]) -> Result<(), String> {
                self.0.all_gather(mine, lens, out)
            }
        }
        let (rows, width) = (5, 20);
        let whole: Vec<f32> = (0..rows * width).map(|i| i as f32).collect();
        let handles: Vec<_> = ThreadExchange::group(3)
            .into_iter()
            .enumerate()
            .map(|(index, exchange)| {
                let whole = whole.clone();
                std::thread::spawn(move || {
                    let split = Split::new(Shard { index, count: 3 }, width, 4);
                    let mine = split.mine();
                    let part: Vec<f32> = whole.chunks(width).flat_map(|row| row[mine.clone()].to_vec()).collect();
                    let mut full = vec![0.0; rows * width];
                    split.gather(&mut Small(exchange), &part, &mut full, &mut Vec::new()).unwrap();
                    full
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), whole);
        }
    }
}
