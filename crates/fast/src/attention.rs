//! Grouped-query attention over the fused q|k|v rows, as two matmuls per block of `QUERY_ROWS` rows:
//! scores = Q·Kᵀ for those rows of every query head of one kv head against every key, the keys a row may not
//! see (causal and block-causal masks) set to −∞, a softmax per row, then out = P·V (the softmax's normalization applied to P·V's rows). The intermediate is one block of
//! score rows (`heads per kv head × QUERY_ROWS × seq` floats), never the seq × seq matrix. A task is one kv
//! head over a range of blocks; the matmuls are the same register-tiled kernel as the projections, on the
//! task's own thread.

use std::cell::Cell;

use unmask_model::AttentionKind;

use crate::gemm::{self, Matrix};
use crate::math;
use crate::pool::Pool;
use crate::tile::NR;

/// Query rows per block. A block scores these rows for all the query heads of one kv head at once (48 rows
/// with two heads per kv head: whole tiles natively and in wasm), and its score block (`rows × seq`) stays in
/// L2 at the longest canvases.
const QUERY_ROWS: usize = 24;

/// Shapes of one attention call over rows of `stride` floats laid out `q | k | v`.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Keys (and values): the whole canvas.
    pub seq: usize,
    /// The first query row: rows before it were kept from an earlier pass and are not computed again.
    pub first: usize,
    pub kind: AttentionKind,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl Shape {
    fn q_width(self) -> usize {
        self.heads * self.head_dim
    }

    fn kv_width(self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// Floats per fused row.
    pub fn stride(self) -> usize {
        self.q_width() + 2 * self.kv_width()
    }
}

/// `out[(seq − first) × heads·d]` = softmax(q kᵀ / √d) v for every head of query rows `first..seq`, over
/// the keys `shape.kind` lets each of them see (`is_mask[i]`: whether canvas position `i` is a mask, which
/// `masks_see_block` asks).
///
/// A task is one kv head over a range of query rows: it packs that head's keys and values itself, into
/// buffers of its thread, so the packed matrices stay in the cache of the core that reads them and there is
/// no parallel region for packing (packing a head twice costs about 1 % of a forward pass). The query rows
/// are split so that there are about two tasks per thread.
pub fn attention(qkv: &[f32], shape: Shape, is_mask: &[bool], out: &mut [f32], pool: &Pool) {
    let queries = shape.seq - shape.first;
    if queries == 0 {
        return;
    }
    let row_blocks = queries.div_ceil(QUERY_ROWS);
    let splits = (2 * pool.threads()).div_ceil(shape.kv_heads).clamp(1, row_blocks);
    let rows_per_split = row_blocks.div_ceil(splits) * QUERY_ROWS;
    let splits = queries.div_ceil(rows_per_split);
    let group_width = shape.heads / shape.kv_heads * shape.head_dim;
    // Each output row cut into one segment per kv head (its query heads' columns); task (kv, split) gets
    // segment kv of the split's rows.
    let mut shares: Vec<Vec<&mut [f32]>> =
        (0..shape.kv_heads * splits).map(|_| Vec::with_capacity(rows_per_split)).collect();
    for (i, row) in out.chunks_exact_mut(shape.q_width()).enumerate() {
        for (kv, segment) in row.chunks_exact_mut(group_width).enumerate() {
            shares[kv * splits + i / rows_per_split].push(segment);
        }
    }
    pool.each(shares, |t, mut rows| {
        let (kv, split) = (t / splits, t % splits);
        let [keys, values] = PACKED_KV.take();
        let matrices = kv_matrices(qkv, shape, kv, keys, values);
        for (b, block) in rows.chunks_mut(QUERY_ROWS).enumerate() {
            let first = shape.first + split * rows_per_split + b * QUERY_ROWS;
            query_block(qkv, shape, is_mask, &matrices, kv, first, block);
        }
        PACKED_KV.set(matrices.map(|m| match m {
            Matrix::F32 { panels, .. } => panels,
            _ => unreachable!("kv_matrices packs f32"),
        }));
    });
}

/// The matrices of kv head `kv`, packed straight from the fused rows into `keys` and `values` (reused
/// buffers): its keys (`seq × d`, for scores = Q·Kᵀ) and its values transposed (`d × seq`, for out = P·V). A
/// panel of the values is sixteen of their columns, so it is filled with row copies; the keys are transposed
/// once. Padding lanes keep whatever the buffers held: the kernel never stores their columns.
fn kv_matrices(qkv: &[f32], shape: Shape, kv: usize, mut keys: Vec<f32>, mut values: Vec<f32>) -> [Matrix; 2] {
    let (seq, d) = (shape.seq, shape.head_dim);
    let stride = shape.stride();
    let (k_column, v_column) = (shape.q_width() + kv * d, shape.q_width() + shape.kv_width() + kv * d);
    keys.resize(seq.div_ceil(NR) * d * NR, 0.0);
    for (j, row) in qkv.chunks_exact(stride).take(seq).enumerate() {
        let panel = &mut keys[j / NR * d * NR..][..d * NR];
        for (c, &value) in row[k_column..][..d].iter().enumerate() {
            panel[c * NR + j % NR] = value;
        }
    }
    values.resize(d.div_ceil(NR) * seq * NR, 0.0);
    for (p, panel) in values.chunks_exact_mut(seq * NR).enumerate() {
        let width = NR.min(d - p * NR);
        for (out, row) in panel.chunks_exact_mut(NR).zip(qkv.chunks_exact(stride)) {
            let values = &row[v_column + p * NR..][..width];
            // A whole panel row is a fixed-size copy (a vector move), not a call to memcpy.
            match <&[f32; NR]>::try_from(values) {
                Ok(values) => *<&mut [f32; NR]>::try_from(out).expect("NR wide") = *values,
                Err(_) => out[..width].copy_from_slice(values),
            }
        }
    }
    [Matrix::F32 { rows: seq, cols: d, panels: keys }, Matrix::F32 { rows: d, cols: seq, panels: values }]
}

/// The query heads of kv head `kv` on rows `first..` (as many as `out` has), all scored in one matmul:
/// `out[r]` is row `first + r`'s output for those heads.
fn query_block(
    qkv: &[f32],
    shape: Shape,
    is_mask: &[bool],
    [keys, values_t]: &[Matrix; 2],
    kv: usize,
    first: usize,
    out: &mut [&mut [f32]],
) {
    let Shape { seq, heads, kv_heads, head_dim: d, kind, .. } = shape;
    let (group, count, stride) = (heads / kv_heads, out.len(), shape.stride());
    let scale = 1.0 / (d as f32).sqrt();
    let (mut queries, mut scores, mut inverse_sums) = SCRATCH.take();
    // Query rows ordered (head of the group, row); every value is written before it is read.
    queries.resize(group * count * d, 0.0);
    for (i, q) in queries.chunks_exact_mut(d).enumerate() {
        let (h, r) = (kv * group + i / count, first + i % count);
        q.iter_mut().zip(&qkv[r * stride + h * d..][..d]).for_each(|(q, &x)| *q = x * scale);
    }
    // This runs inside a pool task: its matmuls stay on this thread.
    let serial = Pool::new(1);
    scores.resize(group * count * seq, 0.0);
    gemm::matmul(&queries, keys, None, &mut scores, &serial);
    if kind != AttentionKind::Bidirectional {
        for (i, row) in scores.chunks_exact_mut(seq).enumerate() {
            let query = first + i % count;
            row[kind.key_end(query, seq, is_mask[query])..].fill(f32::NEG_INFINITY);
        }
    }
    // Softmax's normalization waits for P·V: `d` products per row to scale instead of `seq` probabilities.
    inverse_sums.resize(group * count, 0.0);
    math::exp_rows(&mut scores, seq, &mut inverse_sums);
    let attended = &mut queries;
    gemm::matmul(&scores, values_t, None, attended, &serial);
    for (i, (a, &inverse_sum)) in attended.chunks_exact(d).zip(&inverse_sums).enumerate() {
        let (g, r) = (i / count, i % count);
        out[r][g * d..][..d].iter_mut().zip(a).for_each(|(o, &a)| *o = a * inverse_sum);
    }
    SCRATCH.set((queries, scores, inverse_sums));
}

thread_local! {
    /// A task's packed keys and values, reused by this thread's next task.
    static PACKED_KV: Cell<[Vec<f32>; 2]> = const { Cell::new([Vec::new(), Vec::new()]) };
    /// A task's query rows, score block and the score rows' inverse sums, reused by this thread's next task.
    static SCRATCH: Cell<(Vec<f32>, Vec<f32>, Vec<f32>)> = const { Cell::new((Vec::new(), Vec::new(), Vec::new())) };
}
