//! Bidirectional grouped-query attention over the fused q|k|v rows, as two matmuls per block of queries:
//! scores = Q·Kᵀ for `QUERY_BLOCK` queries against every key, a softmax per row, then out = P·V. The
//! intermediate is one block of score rows (`QUERY_BLOCK × seq` floats), never the seq × seq matrix. Query
//! rows are split over threads; the matmuls are the same register-tiled kernel as the projections.

use crate::gemm::{self, Matrix};
use crate::math;
use crate::pool::Pool;

/// Queries per block: the score block (`QUERY_BLOCK × seq`) stays in L2 at the longest canvases.
const QUERY_BLOCK: usize = 32;

/// Shapes of one attention call over rows of `stride` floats laid out `q | k | v`.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub seq: usize,
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

/// `out[seq × heads·d]` = softmax(q kᵀ / √d) v for every head, every key visible to every query.
pub fn attention(qkv: &[f32], shape: Shape, out: &mut [f32], pool: &Pool) {
    // Each kv head's keys as the rows of a matrix (scores = Q·Kᵀ) and its values transposed (out = P·V), packed
    // once and shared by the threads.
    let mut heads: Vec<Option<(Matrix, Matrix)>> = (0..shape.kv_heads).map(|_| None).collect();
    pool.each(heads.iter_mut().collect(), |kv, slot| *slot = Some(kv_matrices(qkv, shape, kv)));
    let heads: Vec<(Matrix, Matrix)> = heads.into_iter().map(|h| h.expect("every kv head packed")).collect();
    let per_task = pool.rows_per_task(shape.seq);
    let blocks: Vec<&mut [f32]> = out.chunks_mut(per_task * shape.q_width()).collect();
    pool.each(blocks, |t, block| rows(qkv, shape, &heads, t * per_task, block));
}

/// Keys `[seq × d]` and transposed values `[d × seq]` of kv head `kv`.
fn kv_matrices(qkv: &[f32], shape: Shape, kv: usize) -> (Matrix, Matrix) {
    let (seq, d) = (shape.seq, shape.head_dim);
    let (stride, q_width, kv_width) = (shape.stride(), shape.q_width(), shape.kv_width());
    let keys: Vec<f32> = (0..seq).flat_map(|j| &qkv[j * stride + q_width + kv * d..][..d]).copied().collect();
    let mut values_t = vec![0.0f32; d * seq];
    for j in 0..seq {
        let v = &qkv[j * stride + q_width + kv_width + kv * d..][..d];
        for (c, &value) in v.iter().enumerate() {
            values_t[c * seq + j] = value;
        }
    }
    (Matrix::f32(seq, d, &keys), Matrix::f32(d, seq, &values_t))
}

/// Output rows `first..` (as many as `out` holds).
fn rows(qkv: &[f32], shape: Shape, kv_heads: &[(Matrix, Matrix)], first: usize, out: &mut [f32]) {
    let Shape { seq, heads, head_dim: d, .. } = shape;
    let (stride, q_width) = (shape.stride(), shape.q_width());
    let count = out.len() / q_width;
    let group = heads / kv_heads.len();
    let scale = 1.0 / (d as f32).sqrt();
    let block = QUERY_BLOCK.min(count.max(1));
    let mut queries = vec![0.0f32; block * d];
    let mut scores = vec![0.0f32; block * seq];
    let mut attended = vec![0.0f32; block * d];
    // This runs inside a pool task: its matmuls stay on this thread.
    let serial = Pool::new(1);
    for (kv, (keys, values_t)) in kv_heads.iter().enumerate() {
        for h in kv * group..(kv + 1) * group {
            for start in (0..count).step_by(block) {
                let rows = block.min(count - start);
                for (r, q) in queries.chunks_exact_mut(d).take(rows).enumerate() {
                    let i = first + start + r;
                    q.iter_mut().zip(&qkv[i * stride + h * d..][..d]).for_each(|(q, &x)| *q = x * scale);
                }
                let scores = &mut scores[..rows * seq];
                gemm::matmul(&queries[..rows * d], keys, None, scores, &serial);
                for row in scores.chunks_exact_mut(seq) {
                    let max = row.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                    row.iter_mut().for_each(|s| *s -= max);
                    math::exp_in_place(row);
                    let inverse = 1.0 / row.iter().sum::<f32>();
                    row.iter_mut().for_each(|s| *s *= inverse);
                }
                gemm::matmul(scores, values_t, None, &mut attended[..rows * d], &serial);
                for (r, a) in attended.chunks_exact(d).take(rows).enumerate() {
                    out[(start + r) * q_width + h * d..][..d].copy_from_slice(a);
                }
            }
        }
    }
}
