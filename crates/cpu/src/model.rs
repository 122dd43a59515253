//! The Qwen2 forward pass (bidirectional) over f32 weights.

use unmask_model::layout::{self, EMBED, FINAL_NORM, LM_HEAD};
use unmask_model::{ModelConfig, Weights};

use crate::CpuError;
use crate::ops::{self, AttentionShape};

struct Layer {
    input_norm: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// q/k/v biases, present in Qwen2 and Dream checkpoints.
    qkv_bias: Option<[Vec<f32>; 3]>,
    o: Vec<f32>,
    post_norm: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    down: Vec<f32>,
}

/// A model ready to run: every weight converted to f32 once.
pub struct CpuModel {
    config: ModelConfig,
    embed: Vec<f32>,
    layers: Vec<Layer>,
    final_norm: Vec<f32>,
    /// `None` when tied to the embedding.
    lm_head: Option<Vec<f32>>,
}

impl CpuModel {
    /// Converts the weights named by the config (f32, f16 or bf16) to f32.
    pub fn load(config: &ModelConfig, weights: &Weights) -> Result<Self, CpuError> {
        layout::check_weights(config, weights)?;
        let biased = layout::has_qkv_bias(weights);
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let mut tensors = layout::layer_tensors(config, i, biased)
                    .into_iter()
                    .map(|(name, shape)| weights.f32(&name, &shape));
                let mut next = || tensors.next().expect("layer_tensors lists every layer tensor");
                let mut layer = Layer {
                    input_norm: next()?,
                    q: next()?,
                    k: next()?,
                    v: next()?,
                    o: next()?,
                    post_norm: next()?,
                    gate: next()?,
                    up: next()?,
                    down: next()?,
                    qkv_bias: None,
                };
                if biased {
                    layer.qkv_bias = Some([next()?, next()?, next()?]);
                }
                Ok(layer)
            })
            .collect::<Result<Vec<_>, unmask_model::ModelError>>()?;
        let (h, v) = (config.hidden_size, config.vocab_size);
        Ok(Self {
            config: config.clone(),
            embed: weights.f32(EMBED, &[v, h])?,
            layers,
            final_norm: weights.f32(FINAL_NORM, &[h])?,
            lm_head: if config.tie_word_embeddings { None } else { Some(weights.f32(LM_HEAD, &[v, h])?) },
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Hidden states after the final norm, `[seq, hidden]`. `key_valid[j] = false` hides position `j` from
    /// every query (padding); `None` means all positions are valid.
    pub fn hidden_states(&self, tokens: &[u32], key_valid: Option<&[bool]>) -> Result<Vec<f32>, CpuError> {
        let c = &self.config;
        let (h, seq) = (c.hidden_size, tokens.len());
        unmask_model::check_canvas(tokens, c.vocab_size, c.max_position_embeddings)?;
        let all_valid;
        let key_valid = match key_valid {
            Some(valid) if valid.len() == seq => valid,
            Some(valid) => return Err(CpuError::MaskLength { mask: valid.len(), seq }),
            None => {
                all_valid = vec![true; seq];
                &all_valid
            }
        };
        let (q_width, kv_width) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let shape =
            AttentionShape { seq, heads: c.num_attention_heads, kv_heads: c.num_key_value_heads, head_dim: c.head_dim };

        let mut x: Vec<f32> = tokens.iter().flat_map(|&t| &self.embed[t as usize * h..][..h]).copied().collect();
        for layer in &self.layers {
            let normed = ops::rms_norm(&x, &layer.input_norm, c.rms_norm_eps);
            let bias = |i: usize| layer.qkv_bias.as_ref().map(|b| b[i].as_slice());
            let mut q = ops::linear(&normed, &layer.q, bias(0), h, q_width);
            let mut k = ops::linear(&normed, &layer.k, bias(1), h, kv_width);
            let v = ops::linear(&normed, &layer.v, bias(2), h, kv_width);
            ops::rope(&mut q, c.num_attention_heads, c.head_dim, c.rope_theta);
            ops::rope(&mut k, c.num_key_value_heads, c.head_dim, c.rope_theta);
            let attended = ops::attention(&q, &k, &v, key_valid, shape);
            let projected = ops::linear(&attended, &layer.o, None, q_width, h);
            x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);

            let normed = ops::rms_norm(&x, &layer.post_norm, c.rms_norm_eps);
            let gate = ops::linear(&normed, &layer.gate, None, h, c.intermediate_size);
            let up = ops::linear(&normed, &layer.up, None, h, c.intermediate_size);
            let mlp = ops::linear(&ops::swiglu(&gate, &up), &layer.down, None, c.intermediate_size, h);
            x.iter_mut().zip(&mlp).for_each(|(x, m)| *x += m);
        }
        Ok(ops::rms_norm(&x, &self.final_norm, c.rms_norm_eps))
    }

    /// Logits `[rows.len(), vocab]` of the given rows of the hidden states (the head is the largest matmul,
    /// so only the rows a step needs are projected).
    pub fn logits_of_rows(&self, hidden: &[f32], rows: &[usize]) -> Vec<f32> {
        let h = self.config.hidden_size;
        let gathered: Vec<f32> = rows.iter().flat_map(|&r| &hidden[r * h..][..h]).copied().collect();
        let head = self.lm_head.as_deref().unwrap_or(&self.embed);
        ops::linear(&gathered, head, None, h, self.config.vocab_size)
    }

    /// Raw (unshifted) logits of every position, `[seq, vocab]`.
    pub fn logits(&self, tokens: &[u32], key_valid: Option<&[bool]>) -> Result<Vec<f32>, CpuError> {
        let hidden = self.hidden_states(tokens, key_valid)?;
        let rows: Vec<usize> = (0..tokens.len()).collect();
        Ok(self.logits_of_rows(&hidden, &rows))
    }
}
