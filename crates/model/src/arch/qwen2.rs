//! Qwen2: the architecture of Dream, DiffuCoder and our own models. Its q, k and v projections carry biases;
//! the diffusion models built on it attend bidirectionally.

use super::{ArchSpec, AttentionKind};

pub const SPEC: ArchSpec = ArchSpec {
    name: "qwen2",
    model_types: &["qwen2", "dream"],
    hf_class: "Qwen2ForCausalLM",
    qkv_bias: true,
    default_attention: AttentionKind::Bidirectional,
};
