//! The operations of the forward pass, in plain f32 loops. Written for clarity: this is the oracle. The only
//! concession to speed is that the big loops split their output rows across threads.

use unmask_model::{AttentionKind, LowRank};

/// Runs `work(row_index, row)` for every `row_len`-sized row of `out`, on as many threads as there are cores
/// (one thread in wasm).
pub fn for_each_row(out: &mut [f32], row_len: usize, work: impl Fn(usize, &mut [f32]) + Sync) {
    let rows = out.len() / row_len.max(1);
    let threads = thread_count().min(rows.max(1));
    if threads <= 1 {
        out.chunks_mut(row_len).enumerate().for_each(|(i, row)| work(i, row));
        return;
    }
    let rows_per_thread = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        for (t, block) in out.chunks_mut(rows_per_thread * row_len).enumerate() {
            let work = &work;
            scope.spawn(move || {
                for (i, row) in block.chunks_mut(row_len).enumerate() {
                    work(t * rows_per_thread + i, row);
                }
            });
        }
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn thread_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(target_arch = "wasm32")]
fn thread_count() -> usize {
    1
}

/// `Σ a_i b_i`, with eight partial sums so the compiler can vectorise it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut partial = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for j in 0..8 {
            partial[j] += x[j] * y[j];
        }
    }
    partial.iter().sum::<f32>() + tail
}

/// `y = x · wᵀ (+ bias)`: `x` is `[rows, inner]`, `w` is `[outer, inner]` (the PyTorch `Linear` layout).
pub fn linear(x: &[f32], w: &[f32], bias: Option<&[f32]>, inner: usize, outer: usize) -> Vec<f32> {
    let rows = x.len() / inner;
    let mut y = vec![0.0; rows * outer];
    for_each_row(&mut y, outer, |r, y_row| {
        let x_row = &x[r * inner..(r + 1) * inner];
        for (o, y) in y_row.iter_mut().enumerate() {
            *y = dot(x_row, &w[o * inner..(o + 1) * inner]) + bias.map_or(0.0, |b| b[o]);
        }
    });
    y
}

/// Adds a mask-gated low-rank update to the rows of `y = x · wᵀ` whose `gated` flag is set:
/// `y_r += B · (A · x_r)`, with `A` `[rank, inner]` and `B` `[outer, rank]`.
pub fn add_low_rank(y: &mut [f32], x: &[f32], update: &LowRank, gated: &[bool], inner: usize, outer: usize) {
    let rank = update.rank;
    for (r, _) in gated.iter().enumerate().filter(|(_, g)| **g) {
        let x_row = &x[r * inner..][..inner];
        let low: Vec<f32> = update.a.chunks_exact(inner).map(|a| dot(a, x_row)).collect();
        for (o, y) in y[r * outer..][..outer].iter_mut().enumerate() {
            *y += dot(&update.b[o * rank..][..rank], &low);
        }
    }
}

/// RMSNorm of every `weight.len()`-sized row: `x / sqrt(mean(x²) + eps) · weight`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f64) -> Vec<f32> {
    let width = weight.len();
    let mut y = x.to_vec();
    for row in y.chunks_mut(width) {
        let mean_square = row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / width as f64;
        let scale = (1.0 / (mean_square + eps).sqrt()) as f32;
        for (v, w) in row.iter_mut().zip(weight) {
            *v = *v * scale * w;
        }
    }
    y
}

/// Rotary position embedding, the "rotate half" layout of Qwen2: in each head, dimension `i < d/2` pairs
/// with `i + d/2` and rotates by angle `position / theta^(2i/d)`. `x` is `[seq, heads · head_dim]`.
pub fn rope(x: &mut [f32], heads: usize, head_dim: usize, theta: f64) {
    let half = head_dim / 2;
    let inv_freq: Vec<f64> = (0..half).map(|i| 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64)).collect();
    for (position, row) in x.chunks_mut(heads * head_dim).enumerate() {
        for head in row.chunks_mut(head_dim) {
            for (i, &freq) in inv_freq.iter().enumerate() {
                let (sin, cos) = (position as f64 * freq).sin_cos();
                let (a, b) = (head[i] as f64, head[i + half] as f64);
                head[i] = (a * cos - b * sin) as f32;
                head[i + half] = (b * cos + a * sin) as f32;
            }
        }
    }
}

/// Shapes of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub seq: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// Grouped-query attention: position `i` attends to the positions `j` that `kind` lets it see
/// (`j < kind.key_end(i, seq, is_mask[i])`) and whose `key_valid` is true. `q` is `[seq, heads · d]`, `k`
/// and `v` are `[seq, kv_heads · d]`; query head `h` reads key/value head `h / (heads / kv_heads)`. Returns
/// `[seq, heads · d]`.
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_valid: &[bool],
    is_mask: &[bool],
    kind: AttentionKind,
    shape: AttentionShape,
) -> Vec<f32> {
    let AttentionShape { seq, heads, kv_heads, head_dim: d } = shape;
    let group = heads / kv_heads;
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0.0; seq * heads * d];
    for_each_row(&mut out, heads * d, |i, out_row| {
        let mut weights = vec![0.0f32; seq];
        for h in 0..heads {
            let kv = h / group;
            let q_vec = &q[i * heads * d + h * d..][..d];
            let mut max = f32::NEG_INFINITY;
            let visible = kind.key_end(i, seq, is_mask[i]);
            for j in 0..seq {
                weights[j] = if key_valid[j] && j < visible {
                    dot(q_vec, &k[j * kv_heads * d + kv * d..][..d]) * scale
                } else {
                    f32::NEG_INFINITY
                };
                max = max.max(weights[j]);
            }
            if max == f32::NEG_INFINITY {
                continue; // no valid key at all: the output stays zero rather than NaN
            }
            let mut sum = 0.0f32;
            for w in weights.iter_mut() {
                *w = (*w - max).exp();
                sum += *w;
            }
            let out_head = &mut out_row[h * d..][..d];
            for j in 0..seq {
                let weight = weights[j] / sum;
                if weight != 0.0 {
                    let v_vec = &v[j * kv_heads * d + kv * d..][..d];
                    out_head.iter_mut().zip(v_vec).for_each(|(o, &x)| *o += weight * x);
                }
            }
        }
    });
    out
}

/// SwiGLU's gate: `silu(gate) · up`, elementwise.
pub fn swiglu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    gate.iter().zip(up).map(|(&g, &u)| g / (1.0 + (-g).exp()) * u).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_hand_computation() {
        // x = [[1, 2]], w = [[1, 0], [0, 1], [1, 1]], b = [0, 1, 2] → [1, 3, 5]
        let y = linear(&[1.0, 2.0], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], Some(&[0.0, 1.0, 2.0]), 2, 3);
        assert_eq!(y, vec![1.0, 3.0, 5.0]);
    }

    #[test]
    fn rms_norm_of_a_constant_row_is_the_weight() {
        let y = rms_norm(&[3.0, 3.0, -3.0, -3.0], &[1.0, 2.0], 0.0);
        assert_eq!(y, vec![1.0, 2.0, -1.0, -2.0]);
    }

    #[test]
    fn rope_rotates_by_the_position_angle() {
        // head_dim 2, theta irrelevant for i = 0 (frequency 1): position 1 rotates (1, 0) by 1 radian.
        let mut x = vec![1.0, 0.0, 1.0, 0.0];
        rope(&mut x, 1, 2, 10_000.0);
        assert_eq!(&x[..2], &[1.0, 0.0]);
        assert!((x[2] - 1f32.cos()).abs() < 1e-7 && (x[3] - 1f32.sin()).abs() < 1e-7);
    }

    #[test]
    fn attention_ignores_invalid_keys_and_shares_kv_heads() {
        // Two query heads share one kv head; the only valid key is position 0, so every output is v[0].
        let shape = AttentionShape { seq: 2, heads: 2, kv_heads: 1, head_dim: 2 };
        let q = vec![1.0, 0.0, 0.0, 1.0, 0.5, 0.5, -1.0, 2.0];
        let k = vec![0.3, 0.1, 5.0, 5.0];
        let v = vec![1.0, 2.0, 100.0, 100.0];
        let out = attention(&q, &k, &v, &[true, false], &[false; 2], AttentionKind::Bidirectional, shape);
        assert_eq!(out, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn causal_and_block_masks_hide_later_keys() {
        // One head of dimension 1, all scores equal (q = 0): each output is the mean of the values it sees.
        let shape = AttentionShape { seq: 4, heads: 1, kv_heads: 1, head_dim: 1 };
        let (q, k, v) = (vec![0.0; 4], vec![1.0; 4], vec![1.0, 2.0, 3.0, 4.0]);
        let (valid, no_masks) = ([true; 4], [false; 4]);
        let causal = attention(&q, &k, &v, &valid, &no_masks, AttentionKind::Causal, shape);
        assert_eq!(causal, vec![1.0, 1.5, 2.0, 2.5]);
        let block = attention(&q, &k, &v, &valid, &no_masks, AttentionKind::BlockCausal { block_size: 2 }, shape);
        assert_eq!(block, vec![1.5, 1.5, 2.5, 2.5]);
        let all = attention(&q, &k, &v, &valid, &no_masks, AttentionKind::Bidirectional, shape);
        assert_eq!(all, vec![2.5; 4]);
        // Masks (positions 0 and 2) see their whole block, tokens causally.
        let gated = AttentionKind::MasksSeeBlock { block_size: 2 };
        let mixed = attention(&q, &k, &v, &valid, &[true, false, true, false], gated, shape);
        assert_eq!(mixed, vec![1.5, 1.5, 2.5, 2.5]);
        let tokens = attention(&q, &k, &v, &valid, &no_masks, gated, shape);
        assert_eq!(tokens, causal);
    }

    #[test]
    fn low_rank_updates_touch_gated_rows_only() {
        // rank 1: A = [1, 1], B = [[2], [3]]; row 1 gated: y1 += [2, 3] · (x1·[1, 1]) = [2, 3] · 5.
        let update = LowRank { a: vec![1.0, 1.0], b: vec![2.0, 3.0], rank: 1 };
        let x = [1.0, 2.0, 2.0, 3.0];
        let mut y = vec![0.5; 4];
        add_low_rank(&mut y, &x, &update, &[false, true], 2, 2);
        assert_eq!(y, vec![0.5, 0.5, 10.5, 15.5]);
    }

    #[test]
    fn swiglu_is_silu_times_up() {
        let y = swiglu(&[0.0, 1.0], &[5.0, 2.0]);
        assert_eq!(y[0], 0.0);
        assert!((y[1] - 2.0 / (1.0 + (-1f32).exp())).abs() < 1e-7);
    }
}
