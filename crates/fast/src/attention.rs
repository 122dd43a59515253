//! Bidirectional grouped-query attention over the fused q|k|v rows, one query row at a time: the scores of
//! a row (O(seq) floats) are the only intermediate, never the seq × seq matrix. Query rows are split over
//! threads; the dot products and the weighted sum of values run along `head_dim`, eight lanes at a time.

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
pub fn attention(qkv: &[f32], shape: Shape, out: &mut [f32], threads: usize) {
    let width = shape.q_width();
    let threads = threads.clamp(1, shape.seq.max(1));
    if threads == 1 {
        rows(qkv, shape, 0, out);
        return;
    }
    let rows_per_thread = shape.seq.div_ceil(threads);
    std::thread::scope(|scope| {
        let mut chunks = out.chunks_mut(rows_per_thread * width).enumerate();
        let mine = chunks.next();
        for (t, chunk) in chunks {
            scope.spawn(move || rows(qkv, shape, t * rows_per_thread, chunk));
        }
        if let Some((_, chunk)) = mine {
            rows(qkv, shape, 0, chunk);
        }
    });
}

/// Output rows `first..` (as many as `out` holds).
fn rows(qkv: &[f32], shape: Shape, first: usize, out: &mut [f32]) {
    let Shape { seq, heads, kv_heads, head_dim: d } = shape;
    let (stride, q_width, kv_width) = (shape.stride(), shape.q_width(), shape.kv_width());
    let group = heads / kv_heads;
    let scale = 1.0 / (d as f32).sqrt();
    let mut scores = vec![0.0f32; seq];
    for (r, out_row) in out.chunks_exact_mut(q_width).enumerate() {
        let i = first + r;
        for h in 0..heads {
            let kv = h / group;
            let q = &qkv[i * stride + h * d..][..d];
            let mut max = f32::NEG_INFINITY;
            for (j, score) in scores.iter_mut().enumerate() {
                let k = &qkv[j * stride + q_width + kv * d..][..d];
                *score = dot(q, k) * scale;
                max = max.max(*score);
            }
            scores.iter_mut().for_each(|s| *s -= max);
            crate::math::exp_in_place(&mut scores);
            let sum: f32 = scores.iter().sum();
            let o = &mut out_row[h * d..][..d];
            o.fill(0.0);
            for (j, &score) in scores.iter().enumerate() {
                let weight = score / sum;
                let v = &qkv[j * stride + q_width + kv_width + kv * d..][..d];
                o.iter_mut().zip(v).for_each(|(o, &v)| *o += weight * v);
            }
        }
    }
}

/// Dot product in eight independent lanes (so it vectorizes), then summed.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut acc = [0.0f32; LANES];
    let whole = a.len() / LANES * LANES;
    for (x, y) in a[..whole].chunks_exact(LANES).zip(b[..whole].chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + a[whole..].iter().zip(&b[whole..]).map(|(x, y)| x * y).sum::<f32>()
}
