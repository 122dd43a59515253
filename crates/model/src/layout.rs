//! Hugging Face tensor names and shapes of the Qwen2 architecture: the one place that knows them.

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::weights::Weights;

pub const EMBED: &str = "model.embed_tokens.weight";
pub const FINAL_NORM: &str = "model.norm.weight";
pub const LM_HEAD: &str = "lm_head.weight";

/// `model.layers.{layer}.{suffix}`.
pub fn layer_tensor(layer: usize, suffix: &str) -> String {
    format!("model.layers.{layer}.{suffix}")
}

/// Every tensor of one decoder layer with its shape; `biased` adds the q/k/v biases Qwen2 has.
pub fn layer_tensors(config: &ModelConfig, layer: usize, biased: bool) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (config.hidden_size, config.intermediate_size);
    let q = config.num_attention_heads * config.head_dim;
    let kv = config.num_key_value_heads * config.head_dim;
    let mut tensors = vec![
        ("input_layernorm.weight", vec![h]),
        ("self_attn.q_proj.weight", vec![q, h]),
        ("self_attn.k_proj.weight", vec![kv, h]),
        ("self_attn.v_proj.weight", vec![kv, h]),
        ("self_attn.o_proj.weight", vec![h, q]),
        ("post_attention_layernorm.weight", vec![h]),
        ("mlp.gate_proj.weight", vec![i, h]),
        ("mlp.up_proj.weight", vec![i, h]),
        ("mlp.down_proj.weight", vec![h, i]),
    ];
    if biased {
        tensors.extend([
            ("self_attn.q_proj.bias", vec![q]),
            ("self_attn.k_proj.bias", vec![kv]),
            ("self_attn.v_proj.bias", vec![kv]),
        ]);
    }
    tensors.into_iter().map(|(suffix, shape)| (layer_tensor(layer, suffix), shape)).collect()
}

/// Whether the checkpoint carries q/k/v biases (Qwen2 and Dream do; checked on layer 0, required of all).
pub fn has_qkv_bias(weights: &Weights) -> bool {
    weights.contains(&layer_tensor(0, "self_attn.q_proj.bias"))
}

/// Every tensor the forward pass reads, with the shape config.json implies.
pub fn expected_tensors(config: &ModelConfig, biased: bool) -> Vec<(String, Vec<usize>)> {
    let (h, v) = (config.hidden_size, config.vocab_size);
    let mut tensors = vec![(EMBED.to_owned(), vec![v, h])];
    for layer in 0..config.num_hidden_layers {
        tensors.extend(layer_tensors(config, layer, biased));
    }
    tensors.push((FINAL_NORM.to_owned(), vec![h]));
    if !config.tie_word_embeddings {
        tensors.push((LM_HEAD.to_owned(), vec![v, h]));
    }
    tensors
}

/// Checks that `weights` holds every tensor the config implies, with the right shape, before any engine
/// spends time converting them.
pub fn check_weights(config: &ModelConfig, weights: &Weights) -> Result<()> {
    let biased = has_qkv_bias(weights);
    for (name, shape) in expected_tensors(config, biased) {
        let info = weights.info(&name).ok_or_else(|| {
            let hint = if name == LM_HEAD { " (or set tie_word_embeddings in config.json)" } else { "" };
            ModelError::MissingTensor { name: format!("{name}{hint}"), files: "the model's safetensors".into() }
        })?;
        if info.shape != shape {
            return Err(ModelError::Tensor {
                file: "safetensors".into(),
                name,
                message: format!("shape {:?}, expected {:?} from config.json", info.shape, shape),
            });
        }
    }
    Ok(())
}
