//! The decoder description every engine runs: which architecture, which attention mask, and the weights of
//! each layer as named fields.
//!
//! Every supported model is the same pre-norm decoder: embedding, then per layer RMSNorm → grouped-query
//! attention with RoPE → residual → RMSNorm → SwiGLU MLP → residual, then a final RMSNorm and a head that may
//! be tied to the embedding. What differs between architectures is small and lives in one file each
//! (`qwen2.rs`, `llama.rs`): the `model_type` names, whether q/k/v carry biases, the default attention kind
//! and the Hugging Face class written back. The dimensions, RoPE theta, norm epsilon and logit shift are
//! [`ModelConfig`](crate::ModelConfig) fields; [`AttentionKind`] says which keys a query sees;
//! [`DecoderTensors`] is the one loader of weights by name.
//!
//! RoPE has one layout in every engine, the "rotate half" of Hugging Face checkpoints; imports of other
//! layouts (GGUF's interleaved pairs) permute the Q and K rows back when they read the file, so no engine
//! needs a second one. The activation is always SiLU (`config.json` is checked).
//!
//! Adding an architecture: a file here with its [`ArchSpec`], a variant of [`Architecture`], and, when its
//! tensors are named differently from Hugging Face's Llama/Qwen2 names, a name map in `tensors.rs`.

mod attention;
pub mod llama;
pub mod qwen2;
pub mod tensors;

pub use attention::AttentionKind;
pub use tensors::{
    DecoderTensors, LayerAdapter, LayerTensors, LowRank, QkvBias, Stored, check, is_low_rank_factor, tensor_names,
};

use serde::{Deserialize, Serialize};

/// What distinguishes one architecture from another.
#[derive(Debug)]
pub struct ArchSpec {
    /// The name `unmask inspect` shows.
    pub name: &'static str,
    /// `model_type` values in `config.json` that select it (lower case).
    pub model_types: &'static [&'static str],
    /// The Hugging Face class written to `config.json`'s `architectures`.
    pub hf_class: &'static str,
    /// Whether the q, k and v projections carry biases.
    pub qkv_bias: bool,
    /// The attention when `config.json` names none.
    pub default_attention: AttentionKind,
}

/// A supported architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    Qwen2,
    Llama,
}

impl Architecture {
    pub const ALL: [Architecture; 2] = [Architecture::Qwen2, Architecture::Llama];

    pub fn spec(self) -> &'static ArchSpec {
        match self {
            Architecture::Qwen2 => &qwen2::SPEC,
            Architecture::Llama => &llama::SPEC,
        }
    }

    /// The architecture a `config.json` `model_type` names (lower case), if supported.
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.spec().model_types.contains(&model_type))
    }

    /// Every accepted `model_type`, for error messages.
    pub fn model_types() -> Vec<&'static str> {
        Self::ALL.iter().flat_map(|a| a.spec().model_types.iter().copied()).collect()
    }
}
