//! The forward pass over the engine's matrices and reused buffers.

use unmask_model::layout::{self, EMBED, FINAL_NORM, LM_HEAD};
use unmask_model::quant::DEFAULT_GROUP_SIZE;
use unmask_model::{ModelConfig, QuantScheme, Weights};

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
    /// Quantized weights only: where the CPU has int8 dot products (AVX-512 VNNI), multiply them with
    /// activations quantized to int8 per group: faster, with an error of about 1/254 of a group's largest
    /// activation per term. `false` keeps the exact product with the dequantized weights everywhere.
    pub int8_dot: bool,
}

impl Default for FastOptions {
    fn default() -> Self {
        FastOptions {
            quant: None,
            group_size: DEFAULT_GROUP_SIZE,
            threads: gemm::default_threads(),
            max_len: 1024,
            int8_dot: true,
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
    x: Vec<f32>,
    normed: Vec<f32>,
    qkv: Vec<f32>,
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
    pool: Pool,
}

impl FastModel {
    pub fn load(config: &ModelConfig, weights: &Weights, options: FastOptions) -> Result<Self, FastError> {
        layout::check_weights(config, weights)?;
        let c = config;
        let max_len = options.max_len.min(c.max_position_embeddings).max(1);
        let (h, inter) = (c.hidden_size, c.intermediate_size);
        let (q_width, kv_width) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let matrix = |name: &str, rows: usize, cols: usize| -> Result<Matrix, FastError> {
            if let Some(q) = weights.quant(name)? {
                return Ok(Matrix::Quant(q));
            }
            let data = weights.f32(name, &[rows, cols])?;
            Ok(gemm::matrix(data, rows, cols, options.quant, options.group_size))
        };
        let prepare = |m: Matrix| if options.int8_dot { m.for_this_cpu() } else { m };
        let biased = layout::has_qkv_bias(weights);
        // Panel-interleaved gate|up needs whole panels (and gate and up quantized alike, as converted files are).
        let fused = inter.is_multiple_of(gemm::NR);
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let name = |suffix: &str| layout::layer_tensor(i, suffix);
                let qkv = Matrix::stacked(
                    vec![
                        matrix(&name("self_attn.q_proj.weight"), q_width, h)?,
                        matrix(&name("self_attn.k_proj.weight"), kv_width, h)?,
                        matrix(&name("self_attn.v_proj.weight"), kv_width, h)?,
                    ],
                    |r| r,
                );
                let qkv = prepare(qkv);
                let qkv_bias = if biased {
                    let mut bias = weights.f32(&name("self_attn.q_proj.bias"), &[q_width])?;
                    bias.extend(weights.f32(&name("self_attn.k_proj.bias"), &[kv_width])?);
                    bias.extend(weights.f32(&name("self_attn.v_proj.bias"), &[kv_width])?);
                    Some(bias)
                } else {
                    None
                };
                Ok(Layer {
                    input_norm: weights.f32(&name("input_layernorm.weight"), &[h])?,
                    qkv,
                    qkv_bias,
                    o: prepare(matrix(&name("self_attn.o_proj.weight"), h, q_width)?),
                    post_norm: weights.f32(&name("post_attention_layernorm.weight"), &[h])?,
                    gate_up: {
                        let gate = matrix(&name("mlp.gate_proj.weight"), inter, h)?;
                        let up = matrix(&name("mlp.up_proj.weight"), inter, h)?;
                        prepare(if fused {
                            Matrix::interleave_panels(gate, up)
                        } else {
                            Matrix::stacked(vec![gate, up], |r| r)
                        })
                    },
                    fused,
                    down: prepare(matrix(&name("mlp.down_proj.weight"), h, inter)?),
                })
            })
            .collect::<Result<Vec<_>, FastError>>()?;
        let rope = math::RopeTable::new(max_len, c.head_dim, c.rope_theta);
        let rows = max_len;
        let buffers = Buffers {
            x: vec![0.0; rows * h],
            normed: vec![0.0; rows * h.max(inter)],
            qkv: vec![0.0; rows * (q_width + 2 * kv_width)],
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
            embed: prepare(matrix(EMBED, c.vocab_size, h)?),
            lm_head: if c.tie_word_embeddings { None } else { Some(prepare(matrix(LM_HEAD, c.vocab_size, h)?)) },
            layers,
            final_norm: weights.f32(FINAL_NORM, &[h])?,
            rope,
            buffers,
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

    /// The decoder layers over `tokens`, leaving the residual stream in `buffers.x`.
    fn forward(&mut self, tokens: &[u32]) {
        let c = self.config.clone();
        let pool = &self.pool;
        let (h, inter, seq) = (c.hidden_size, c.intermediate_size, tokens.len());
        let shape = Shape { seq, heads: c.num_attention_heads, kv_heads: c.num_key_value_heads, head_dim: c.head_dim };
        let b = &mut self.buffers;
        let x = &mut b.x[..seq * h];
        for (row, &t) in x.chunks_exact_mut(h).zip(tokens) {
            self.embed.row(t as usize, row);
        }
        let eps = c.rms_norm_eps;
        let per_task = pool.rows_per_task(seq);
        let mut pending: Option<&[f32]> = None;
        for layer in &self.layers {
            let normed = &mut b.normed[..seq * h];
            add_and_norm(pool, x, pending, normed, &layer.input_norm, eps);
            let qkv = &mut b.qkv[..seq * shape.stride()];
            gemm::matmul(normed, &layer.qkv, layer.qkv_bias.as_deref(), qkv, pool);
            let blocks = qkv.chunks_mut(per_task * shape.stride()).collect();
            pool.each(blocks, |t, block| {
                let heads = shape.heads + shape.kv_heads;
                for (position, row) in block.chunks_exact_mut(shape.stride()).enumerate() {
                    math::rope(&mut row[..heads * shape.head_dim], shape.head_dim, &self.rope, t * per_task + position);
                }
            });
            let attended = &mut b.attended[..seq * c.num_attention_heads * c.head_dim];
            attention::attention(qkv, shape, attended, pool);
            let projected = &mut b.projected[..seq * h];
            gemm::matmul(attended, &layer.o, None, projected, pool);

            add_and_norm(pool, x, Some(projected), normed, &layer.post_norm, eps);
            let activated = &mut b.activated[..seq * inter];
            if layer.fused {
                gemm::matmul_swiglu(normed, &layer.gate_up, activated, pool);
            } else {
                let gate_up = &mut b.gate_up[..seq * 2 * inter];
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
