//! Llama (SmolLM2 and most GGUF files): Qwen2's decoder without biases. A Llama checkpoint is an
//! autoregressive model, so its attention is causal unless `config.json` says otherwise. Biased variants
//! (`attention_bias`, `mlp_bias`) are refused where the config is read.

use super::{ArchSpec, AttentionKind};

pub const SPEC: ArchSpec = ArchSpec {
    name: "llama",
    model_types: &["llama"],
    hf_class: "LlamaForCausalLM",
    qkv_bias: false,
    default_attention: AttentionKind::Causal,
};
