//! The forward pass over the engine's matrices and reused buffers.

use unmask_model::quant::DEFAULT_GROUP_SIZE;
use unmask_model::{DecoderTensors, ModelConfig, QuantScheme, Stored, Weights};

use unmask_model::QuantTensor;

use crate::FastError;
use crate::attention::{self, Shape};
use crate::gemm::{self, Matrix};
use crate::math;
use crate::pool::Pool;

/// How to load a model.
#[derive(Clone, Copy, Debug)]
pub struct FastOptions {
    /// Quantize float weights to this scheme (already quantized files stay as they are).
    pub quant: Option<QuantScheme>,
    pub group_size: usize,
    /// Threads (always 1 in wasm).
    pub threads: usize,
    /// The longest canvas the buffers are sized for (capped by the model's context).
    pub max_len: usize,
    /// Quantized weights only: where the CPU has int8 dot products (AVX-512 VNNI), multiply the decoder layers'
    /// matrices with activations quantized to int8 per group: faster, with an error of about 1/254 of a group's
    /// largest activation per term. The head is always exact. `false` keeps the exact product with the
    /// dequantized weights everywhere.
    pub int8_dot: bool,
    /// Causal and block-causal models: keep every layer's keys and values, and the residual stream, of the
    /// rows before the first changed block, and compute only the rows from there on (exact: those rows never
    /// see later ones). Costs one q|k|v buffer per layer instead of one in all.
    pub kv_cache: bool,
}

impl Default for FastOptions {
    fn default() -> Self {
        FastOptions {
            quant: None,
            group_size: DEFAULT_GROUP_SIZE,
            threads: gemm::default_threads(),
            max_len: 1024,
            int8_dot: true,
            kv_cache: true,
        }
    }
}

struct Layer {
    input_norm: Vec<f32>,
    /// q, k and v projections stacked (rows q | k | v), one matmul.
    qkv: Matrix,
    qkv_bias: Option<Vec<f32>>,
    o: Matrix,
    post_norm: Vec<f32>,
    /// gate and up projections in one matrix: interleaved panel by panel for `gemm::matmul_swiglu` when
    /// `fused` (the intermediate size is a multiple of the panel width), otherwise stacked (rows gate | up),
    /// the product stored whole and SwiGLU a pass of its own.
    gate_up: Matrix,
    fused: bool,
    down: Matrix,
}

/// Activations, allocated once for `max_len` rows.
struct Buffers {
    /// The residual stream; with the cache, its rows before the first recomputed one hold the last pass's
    /// final values.
    x: Vec<f32>,
    normed: Vec<f32>,
    /// q|k|v rows after RoPE: one buffer per layer with the cache (its rows are the cached keys and values),
    /// one shared by every layer without.
    qkv: Vec<Vec<f32>>,
    attended: Vec<f32>,
    projected: Vec<f32>,
    gate_up: Vec<f32>,
    activated: Vec<f32>,
}

/// A model ready to run on the CPU.
pub struct FastModel {
    config: ModelConfig,
    options: FastOptions,
    embed: Matrix,
    /// `None` when tied to the embedding.
    lm_head: Option<Matrix>,
    layers: Vec<Layer>,
    final_norm: Vec<f32>,
    /// cos and sin of every (position, frequency), computed in f64 as the reference does.
    rope: math::RopeTable,
    buffers: Buffers,
    /// The canvas of the last complete pass, whose leading rows `buffers` still holds (with the cache).
    cached_tokens: Vec<u32>,
    pool: Pool,
}

impl FastModel {
    pub fn load(config: &ModelConfig, weights: &Weights, options: FastOptions) -> Result<Self, FastError> {
        let c = config;
        let max_len = options.max_len.min(c.max_position_embeddings).max(1);
        let (h, inter) = (c.hidden_size, c.intermediate_size);
        let (q_width, kv_width) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        // Quantized files run as stored; float weights are quantized when asked, or the load says why not.
        let matrix = |name: &str, stored: Stored| -> Result<Matrix, FastError> {
            Ok(match stored {
                Stored::Quant(q) => Matrix::Quant(q),
                Stored::F32 { rows, cols, values } => match options.quant {
                    Some(scheme) => {
                        let q = QuantTensor::quantize(&values, rows, cols, scheme, options.group_size)
                            .map_err(|e| FastError::Quantize { name: name.to_owned(), message: e.to_string() })?;
                        Matrix::Quant(q)
                    }
                    None => Matrix::f32(rows, cols, &values),
                },
            })
        };
        let tensors = DecoderTensors::load(c, weights, matrix)?;
        let prepare = |m: Matrix| if options.int8_dot { m.for_this_cpu() } else { m };
        // Panel-interleaved gate|up needs whole panels (and gate and up quantized alike, as converted files are).
        let fused = inter.is_multiple_of(gemm::NR);
        let layers = tensors
            .layers
            .into_iter()
            .map(|l| Layer {
                input_norm: l.input_norm,
                qkv: prepare(Matrix::stacked(vec![l.q, l.k, l.v], |r| r)),
                qkv_bias: l.qkv_bias.map(|b| [b.q, b.k, b.v].concat()),
                o: prepare(l.o),
                post_norm: l.post_norm,
                gate_up: prepare(if fused {
                    Matrix::interleave_panels(l.gate, l.up)
                } else {
                    Matrix::stacked(vec![l.gate, l.up], |r| r)
                }),
                fused,
                down: prepare(l.down),
            })
            .collect::<Vec<_>>();
        let rope = math::RopeTable::new(max_len, c.head_dim, c.rope_theta);
        let rows = max_len;
        let cached = options.kv_cache && c.attention.is_prefix_stable();
        let buffers = Buffers {
            x: vec![0.0; rows * h],
            normed: vec![0.0; rows * h.max(inter)],
            qkv: vec![vec![0.0; rows * (q_width + 2 * kv_width)]; if cached { c.num_hidden_layers } else { 1 }],
            attended: vec![0.0; rows * q_width],
            projected: vec![0.0; rows * h],
            // The whole gate|up product is stored only when SwiGLU is not fused into the matmul.
            gate_up: if fused { Vec::new() } else { vec![0.0; rows * 2 * inter] },
            activated: vec![0.0; rows * inter],
        };
        // wasm has no threads to spawn (without atomics): one, whatever was asked.
        let pool = Pool::new(options.threads.max(1));
        Ok(FastModel {
            config: c.clone(),
            options: FastOptions { max_len, threads: pool.threads(), ..options },
            // The head picks the tokens, so it multiplies exactly: int8 activations there flip near-ties (SmolLM2's
            // greedy decoding left the reference's at a logit margin of 0.08). A quantized head is dequantized to
            // f32 panels once, here, rather than decoded on every step (which doubled SmolLM2's step time); a tied
            // head is the embedding, whose lookups read the same panels.
            embed: if tensors.head.is_none() { tensors.embed.dequantized() } else { tensors.embed },
            lm_head: tensors.head.map(Matrix::dequantized),
            layers,
            final_norm: tensors.final_norm,
            rope,
            buffers,
            cached_tokens: Vec::new(),
            pool,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn options(&self) -> FastOptions {
        self.options
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Bytes of weights held.
    pub fn weight_bytes(&self) -> usize {
        let layers: usize =
            self.layers.iter().map(|l| l.qkv.bytes() + l.o.bytes() + l.gate_up.bytes() + l.down.bytes()).sum();
        layers + self.embed.bytes() + self.lm_head.as_ref().map_or(0, Matrix::bytes)
    }

    /// Logits `[rows.len(), vocab]` of the given canvas rows after a forward pass over `tokens`.
    pub fn logits_of_rows(&mut self, tokens: &[u32], rows: &[usize]) -> Result<Vec<f32>, FastError> {
        let c = self.config.clone();
        let (h, seq) = (c.hidden_size, tokens.len());
        unmask_model::check_canvas(tokens, c.vocab_size, self.options.max_len)?;
        unmask_model::check_positions(rows.iter().copied(), seq)?;
        self.forward(tokens);
        let b = &mut self.buffers;
        // The head only for the rows asked for: it is the largest matmul.
        let mut gathered = vec![0.0f32; rows.len() * h];
        for (g, &r) in gathered.chunks_exact_mut(h).zip(rows) {
            g.copy_from_slice(&b.x[r * h..][..h]);
        }
        math::rms_norm_rows(&mut gathered, &self.final_norm, c.rms_norm_eps);
        let head = self.lm_head.as_ref().unwrap_or(&self.embed);
        let mut logits = vec![0.0f32; rows.len() * c.vocab_size];
        gemm::matmul(&gathered, head, None, &mut logits, &self.pool);
        Ok(logits)
    }

    /// The decoder layers over `tokens`, leaving the residual stream in `buffers.x`. With the cache, rows
    /// that an earlier pass computed from the same leading tokens are kept, and only the rest are computed.
    fn forward(&mut self, tokens: &[u32]) {
        let c = self.config.clone();
        let pool = &self.pool;
        let (h, inter, seq) = (c.hidden_size, c.intermediate_size, tokens.len());
        let cached = self.buffers.qkv.len() > 1;
        let unchanged = self.cached_tokens.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        let first = if cached { c.attention.reusable_rows(unchanged).min(seq) } else { 0 };
        if first == seq {
            return; // the same canvas again: every row is still in place
        }
        // A pass that stops half way must not leave rows that look reusable.
        self.cached_tokens.clear();
        let shape = Shape {
            seq,
            first,
            kind: c.attention,
            heads: c.num_attention_heads,
            kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim,
        };
        let rows = seq - first;
        let b = &mut self.buffers;
        let x = &mut b.x[first * h..seq * h];
        for (row, &t) in x.chunks_exact_mut(h).zip(&tokens[first..]) {
            self.embed.row(t as usize, row);
        }
        let eps = c.rms_norm_eps;
        let per_task = pool.rows_per_task(rows);
        let mut pending: Option<&[f32]> = None;
        for (l, layer) in self.layers.iter().enumerate() {
            let normed = &mut b.normed[..rows * h];
            add_and_norm(pool, x, pending, normed, &layer.input_norm, eps);
            let qkv = &mut b.qkv[if cached { l } else { 0 }][..seq * shape.stride()];
            let new_rows = &mut qkv[first * shape.stride()..];
            gemm::matmul(normed, &layer.qkv, layer.qkv_bias.as_deref(), new_rows, pool);
            let blocks = new_rows.chunks_mut(per_task * shape.stride()).collect();
            pool.each(blocks, |t, block| {
                let heads = shape.heads + shape.kv_heads;
                for (i, row) in block.chunks_exact_mut(shape.stride()).enumerate() {
                    let position = first + t * per_task + i;
                    math::rope(&mut row[..heads * shape.head_dim], shape.head_dim, &self.rope, position);
                }
            });
            let attended = &mut b.attended[..rows * c.num_attention_heads * c.head_dim];
            attention::attention(qkv, shape, attended, pool);
            let projected = &mut b.projected[..rows * h];
            gemm::matmul(attended, &layer.o, None, projected, pool);

            add_and_norm(pool, x, Some(projected), normed, &layer.post_norm, eps);
            let activated = &mut b.activated[..rows * inter];
            if layer.fused {
                gemm::matmul_swiglu(normed, &layer.gate_up, activated, pool);
            } else {
                let gate_up = &mut b.gate_up[..rows * 2 * inter];
                gemm::matmul(normed, &layer.gate_up, None, gate_up, pool);
                let blocks = gate_up.chunks(per_task * 2 * inter).zip(activated.chunks_mut(per_task * inter)).collect();
                pool.each(blocks, |_, (gate_up, activated): (&[f32], &mut [f32])| {
                    math::swiglu_rows(gate_up, activated, inter);
                });
            }
            gemm::matmul(activated, &layer.down, None, projected, pool);
            pending = Some(projected);
        }
        if let Some(projected) = pending {
            x.iter_mut().zip(projected).for_each(|(x, p)| *x += p);
        }
        if cached {
            self.cached_tokens.extend_from_slice(tokens);
        }
    }
}

/// `x += add` (when given), then `normed = rms_norm(x)`, row blocks in parallel: the residual update
/// folded into the pass that reads the stream for the next norm.
fn add_and_norm(pool: &Pool, x: &mut [f32], add: Option<&[f32]>, normed: &mut [f32], weight: &[f32], eps: f64) {
    let width = weight.len();
    let per_task = pool.rows_per_task(x.len() / width) * width;
    let blocks: Vec<_> = x.chunks_mut(per_task).zip(normed.chunks_mut(per_task)).enumerate().collect();
    pool.each(blocks, |_, (t, (x, normed))| {
        if let Some(add) = add {
            x.iter_mut().zip(&add[t * per_task..]).for_each(|(x, a)| *x += a);
        }
        normed.copy_from_slice(x);
        math::rms_norm_rows(normed, weight, eps);
    });
}
