//! The decoder's forward pass over f32 weights, with the model's attention mask.

use unmask_model::{DecoderTensors, LowRank, ModelConfig, Weights};

use crate::CpuError;
use crate::ops::{self, AttentionShape};

/// A model ready to run: every weight converted to f32 once.
pub struct CpuModel {
    config: ModelConfig,
    tensors: DecoderTensors<Vec<f32>>,
}

impl CpuModel {
    /// Converts the weights the config names (f32, f16, bf16 or quantized) to f32.
    pub fn load(config: &ModelConfig, weights: &Weights) -> Result<Self, CpuError> {
        let tensors = DecoderTensors::load(config, weights, |_, stored| Ok::<_, CpuError>(stored.into_f32()))?;
        Ok(Self { config: config.clone(), tensors })
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

        let t = &self.tensors;
        let is_mask: Vec<bool> = tokens.iter().map(|&id| id == c.mask_token_id).collect();
        let embedding = |id: u32| match &t.mask_embedding {
            Some(mask) if id == c.mask_token_id => mask.as_slice(),
            _ => &t.embed[id as usize * h..][..h],
        };
        let mut x: Vec<f32> = tokens.iter().flat_map(|&id| embedding(id)).copied().collect();
        for layer in &t.layers {
            let adapter = layer.adapter.as_ref();
            // A projection, plus its low-rank update on mask rows in a mask-gated model.
            let project = |x: &[f32], w: &[f32], bias: Option<&[f32]>, update: Option<&LowRank>, inner, outer| {
                let mut y = ops::linear(x, w, bias, inner, outer);
                if let Some(update) = update {
                    ops::add_low_rank(&mut y, x, update, &is_mask, inner, outer);
                }
                y
            };
            let normed = ops::rms_norm(&x, &layer.input_norm, c.rms_norm_eps);
            let bias = layer.qkv_bias.as_ref();
            let mut q = project(&normed, &layer.q, bias.map(|b| b.q.as_slice()), adapter.map(|a| &a.q), h, q_width);
            let mut k = project(&normed, &layer.k, bias.map(|b| b.k.as_slice()), adapter.map(|a| &a.k), h, kv_width);
            let v = project(&normed, &layer.v, bias.map(|b| b.v.as_slice()), adapter.map(|a| &a.v), h, kv_width);
            ops::rope(&mut q, c.num_attention_heads, c.head_dim, c.rope_theta);
            ops::rope(&mut k, c.num_key_value_heads, c.head_dim, c.rope_theta);
            let attended = ops::attention(&q, &k, &v, key_valid, &is_mask, c.attention, shape);
            let projected = project(&attended, &layer.o, None, adapter.map(|a| &a.o), q_width, h);
            x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);

            let normed = ops::rms_norm(&x, &layer.post_norm, c.rms_norm_eps);
            let i = c.intermediate_size;
            let gate = project(&normed, &layer.gate, None, adapter.map(|a| &a.gate), h, i);
            let up = project(&normed, &layer.up, None, adapter.map(|a| &a.up), h, i);
            let mlp = project(&ops::swiglu(&gate, &up), &layer.down, None, adapter.map(|a| &a.down), i, h);
            x.iter_mut().zip(&mlp).for_each(|(x, m)| *x += m);
        }
        Ok(ops::rms_norm(&x, &t.final_norm, c.rms_norm_eps))
    }

    /// Logits `[rows.len(), vocab]` of the given rows of the hidden states (the head is the largest matmul,
    /// so only the rows a step needs are projected).
    pub fn logits_of_rows(&self, hidden: &[f32], rows: &[usize]) -> Vec<f32> {
        let h = self.config.hidden_size;
        let gathered: Vec<f32> = rows.iter().flat_map(|&r| &hidden[r * h..][..h]).copied().collect();
        let head = self.tensors.head.as_deref().unwrap_or(&self.tensors.embed);
        ops::linear(&gathered, head, None, h, self.config.vocab_size)
    }

    /// Raw (unshifted) logits of every position, `[seq, vocab]`.
    pub fn logits(&self, tokens: &[u32], key_valid: Option<&[bool]>) -> Result<Vec<f32>, CpuError> {
        let hidden = self.hidden_states(tokens, key_valid)?;
        let rows: Vec<usize> = (0..tokens.len()).collect();
        Ok(self.logits_of_rows(&hidden, &rows))
    }
}
