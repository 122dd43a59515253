//! `config.json` of a model directory: Qwen2 (Dream, DiffuCoder, ours) or Llama (SmolLM2).
//!
//! Hugging Face configs come in two generations: older checkpoints (Qwen2.5, Dream, DiffuCoder) keep
//! `rope_theta` and `torch_dtype` at the top level, transformers 5 writes `rope_parameters.rope_theta` and
//! `dtype`. Both are accepted. Everything the forward pass needs is checked here, once, so the engines can
//! trust a `ModelConfig`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::arch::{Architecture, AttentionKind};
use crate::error::{ModelError, Result};

/// The architecture hyper-parameters and special tokens of a model, validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// As `config.json` spells it, lower case (`qwen2`, `dream`, `llama`).
    pub model_type: String,
    /// The architecture `model_type` selects.
    pub architecture: Architecture,
    /// Which keys each query sees (`attention`, `block_size`; the architecture's default when absent).
    pub attention: AttentionKind,
    /// The q, k and v projections carry biases (Qwen2 does, Llama does not).
    pub qkv_bias: bool,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Grouped-query attention: each key/value head serves `num_attention_heads / num_key_value_heads` heads.
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    /// The longest canvas (prompt + answer) the model accepts.
    pub max_position_embeddings: usize,
    pub rope_theta: f64,
    pub rms_norm_eps: f64,
    /// The output projection reuses the embedding matrix (no `lm_head.weight` in the file).
    pub tie_word_embeddings: bool,
    pub mask_token_id: u32,
    /// Tokens that end a completion (`eos_token_id` may be one id or a list in config.json).
    pub eos_token_ids: Vec<u32>,
    pub pad_token_id: Option<u32>,
    /// Dream / DiffuCoder convention: the logits for position `i` come from the hidden state at `i - 1`.
    pub shift_logits: bool,
    /// The dtype the checkpoint declares (informational; the tensors say what they really are).
    pub dtype: Option<String>,
    /// Mask-gated low-rank adapters of this rank on every projection, with a learned mask embedding
    /// (`adapter_rank`; see `arch::tensors`): the rows of mask positions get `B·A·x` added.
    #[serde(default)]
    pub adapter_rank: Option<usize>,
}

impl ModelConfig {
    /// Parses and validates `config.json` text. `file` names the source in error messages.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        let raw: RawConfig = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| read_error(e, file))?;
        let config = raw.check(file)?;
        config.validate(file)?;
        Ok(config)
    }

    /// Checks the relations between fields that the forward pass relies on.
    pub fn validate(&self, file: &str) -> Result<()> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if self.attention.block_size() == Some(0) {
            return Err(config_error(file, "`block_size` must be positive"));
        }
        if self.adapter_rank == Some(0) {
            return Err(config_error(file, "`adapter_rank` must be positive"));
        }
        for (name, value) in positive {
            if value == 0 {
                return Err(config_error(file, &format!("`{name}` must be positive")));
            }
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return Err(config_error(file, &format!("head_dim {} must be positive and even (RoPE)", self.head_dim)));
        }
        if !self.num_attention_heads.is_multiple_of(self.num_key_value_heads) {
            return Err(config_error(
                file,
                &format!(
                    "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                    self.num_attention_heads, self.num_key_value_heads
                ),
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return Err(config_error(file, "rope_theta must be a positive number"));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0) {
            return Err(config_error(file, "rms_norm_eps must be a positive number"));
        }
        let vocab = self.vocab_size;
        let ids = std::iter::once(("mask_token_id", self.mask_token_id))
            .chain(self.eos_token_ids.iter().map(|&id| ("eos_token_id", id)))
            .chain(self.pad_token_id.map(|id| ("pad_token_id", id)));
        for (name, id) in ids {
            if id as usize >= vocab {
                return Err(config_error(file, &format!("{name} {id} is outside the vocabulary (size {vocab})")));
            }
        }
        Ok(())
    }

    /// Number of query heads that share one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// A tied-embedding Qwen2 configuration of the given shape (head dim = hidden / heads, θ 10 000, mask
    /// token 1, end-of-text 0): for random models in benchmarks and tests.
    pub fn of_shape(
        hidden: usize,
        layers: usize,
        heads: usize,
        kv_heads: usize,
        intermediate: usize,
        vocab: usize,
        context: usize,
    ) -> ModelConfig {
        ModelConfig {
            model_type: "qwen2".into(),
            architecture: Architecture::Qwen2,
            attention: AttentionKind::Bidirectional,
            qkv_bias: true,
            vocab_size: vocab,
            hidden_size: hidden,
            intermediate_size: intermediate,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim: hidden.checked_div(heads).unwrap_or(0),
            max_position_embeddings: context,
            rope_theta: 10_000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: true,
            mask_token_id: 1,
            eos_token_ids: vec![0],
            pad_token_id: None,
            shift_logits: true,
            dtype: Some("float32".into()),
            adapter_rank: None,
        }
    }

    /// Parameters in the checkpoint (the tied head counted once).
    pub fn parameter_count(&self) -> usize {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let bias = if self.qkv_bias { q + 2 * kv } else { 0 };
        let attention = h * q + 2 * h * kv + bias + q * h;
        let mlp = 3 * h * i;
        let layer = attention + mlp + 2 * h;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v * h + self.num_hidden_layers * layer + h + head
    }

    /// The forward-pass row whose logits predict canvas position `position` (see SAMPLING.md §8).
    pub fn logits_row(&self, position: usize) -> usize {
        if self.shift_logits { position.saturating_sub(1) } else { position }
    }

    /// How many leading positions of `canvas` a forward pass must cover to give the logits of `positions`
    /// (increasing): the whole canvas under bidirectional attention; otherwise up to the last key any of their
    /// logits rows sees (the end of its block, or for a token row of `masks_see_block` the row itself), since
    /// later positions cannot change them, and at least past the last position itself. A block-by-block decode
    /// then skips the still-masked blocks after the one it writes, and a left-to-right one everything after
    /// the leftmost mask.
    pub fn rows_needed(&self, canvas: &[u32], positions: &[u32]) -> usize {
        let len = canvas.len();
        match positions.last() {
            Some(&last) if self.attention.is_prefix_stable() => {
                let key_end = |position: u32| {
                    let row = self.logits_row(position as usize);
                    let row_is_mask = canvas.get(row).is_none_or(|&t| t == self.mask_token_id);
                    self.attention.key_end(row, len, row_is_mask)
                };
                // Key ends grow with the row among masks and among tokens, but a mask row's (its block's end)
                // passes a later token row's: every position counts.
                positions.iter().map(|&p| key_end(p)).max().unwrap_or(0).max(last as usize + 1).min(len)
            }
            _ => len,
        }
    }

    /// The tokens that end a completion: every end-of-text id and the padding id.
    pub fn end_token_ids(&self) -> Vec<u32> {
        self.eos_token_ids.iter().copied().chain(self.pad_token_id).collect()
    }

    /// The `config.json` a Hugging Face loader (and this one) reads back to the same config.
    pub fn to_hf_json(&self) -> Value {
        let mut json = serde_json::json!({
            "architectures": [self.architecture.spec().hf_class],
            "model_type": self.model_type,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_norm_eps,
            "hidden_act": "silu",
            "tie_word_embeddings": self.tie_word_embeddings,
            "mask_token_id": self.mask_token_id,
            "eos_token_id": self.eos_token_ids,
            "pad_token_id": self.pad_token_id,
            "shift_logits": self.shift_logits,
            "torch_dtype": self.dtype,
            "attention": self.attention.name(),
        });
        if let Some(block_size) = self.attention.block_size() {
            json["block_size"] = block_size.into();
        }
        if let Some(rank) = self.adapter_rank {
            json["adapter_rank"] = rank.into();
        }
        if self.architecture == Architecture::Llama {
            json["attention_bias"] = false.into();
        }
        json
    }
}

fn config_error(file: &str, message: &str) -> ModelError {
    ModelError::Config { file: file.into(), message: message.into() }
}

/// A serde error while reading config.json: malformed JSON, or a field of the wrong type (named by its path).
fn read_error(e: serde_path_to_error::Error<serde_json::Error>, file: &str) -> ModelError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if inner.classify() != serde_json::error::Category::Data {
        return ModelError::Json { path: file.into(), message: inner.to_string() };
    }
    let message = if path == "." { inner.to_string() } else { format!("`{path}`: {inner}") };
    config_error(file, &message)
}

/// config.json as written (Hugging Face's names, both generations, types checked by serde); [`RawConfig::check`]
/// turns it into a [`ModelConfig`]. Unknown keys are ignored; `null` reads as absent.
#[derive(Deserialize)]
struct RawConfig {
    model_type: String,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    max_position_embeddings: usize,
    rope_theta: Option<f64>,
    rope_parameters: Option<RopeParameters>,
    rope_scaling: Option<Value>,
    rms_norm_eps: Option<f64>,
    hidden_act: Option<String>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    tie_word_embeddings: Option<bool>,
    mask_token_id: Option<u32>,
    eos_token_id: Option<TokenIds>,
    pad_token_id: Option<u32>,
    shift_logits: Option<bool>,
    torch_dtype: Option<String>,
    dtype: Option<String>,
    attention: Option<String>,
    block_size: Option<usize>,
    adapter_rank: Option<usize>,
}

/// transformers 5's home for `rope_theta` and the RoPE variant.
#[derive(Deserialize)]
struct RopeParameters {
    rope_theta: Option<f64>,
    rope_type: Option<String>,
}

/// `eos_token_id`: one id or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl RawConfig {
    /// What the engines support and the fields that fall back on others; relations are [`ModelConfig::validate`]'s.
    fn check(self, file: &str) -> Result<ModelConfig> {
        let unsupported = |message: String| ModelError::Unsupported { file: file.into(), message };
        let model_type = self.model_type.to_ascii_lowercase();
        let architecture = Architecture::from_model_type(&model_type).ok_or_else(|| {
            unsupported(format!("model_type `{model_type}` (supported: {})", Architecture::model_types().join(", ")))
        })?;
        for (flag, value) in [("attention_bias", self.attention_bias), ("mlp_bias", self.mlp_bias)] {
            if architecture == Architecture::Llama && value == Some(true) {
                return Err(unsupported(format!("`{flag}: true` (Llama without biases only)")));
            }
        }
        if let Some(act) = self.hidden_act.filter(|act| act != "silu") {
            return Err(unsupported(format!("hidden_act `{act}` (only silu)")));
        }
        let rope_type = self.rope_parameters.as_ref().and_then(|p| p.rope_type.clone());
        if let Some(scaling) = self.rope_scaling.filter(|v| !v.is_null()) {
            return Err(unsupported(format!("rope scaling {scaling} (only plain RoPE)")));
        }
        if let Some(kind) = rope_type.filter(|t| t != "default") {
            return Err(unsupported(format!("rope scaling \"{kind}\" (only plain RoPE)")));
        }
        let attention = match self.attention {
            Some(name) => {
                AttentionKind::parse(&name, self.block_size).map_err(|message| config_error(file, &message))?
            }
            None => architecture.spec().default_attention,
        };
        let (hidden_size, num_attention_heads) = (self.hidden_size, self.num_attention_heads);
        let head_dim = match self.head_dim {
            Some(d) => d,
            None if num_attention_heads == 0 || !hidden_size.is_multiple_of(num_attention_heads) => {
                return Err(config_error(
                    file,
                    &format!("hidden_size {hidden_size} is not divisible by num_attention_heads {num_attention_heads}"),
                ));
            }
            None => hidden_size / num_attention_heads,
        };
        let rope_theta = self
            .rope_theta
            .or(self.rope_parameters.and_then(|p| p.rope_theta))
            .ok_or_else(|| config_error(file, "missing `rope_theta` (top level or in rope_parameters)"))?;
        let mask_token_id = self.mask_token_id.ok_or_else(|| {
            config_error(file, "missing `mask_token_id`: a masked-diffusion model needs one (add it to config.json)")
        })?;
        Ok(ModelConfig {
            model_type,
            architecture,
            attention,
            qkv_bias: architecture.spec().qkv_bias,
            vocab_size: self.vocab_size,
            hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads,
            num_key_value_heads: self.num_key_value_heads.unwrap_or(num_attention_heads),
            head_dim,
            max_position_embeddings: self.max_position_embeddings,
            rope_theta,
            rms_norm_eps: self.rms_norm_eps.unwrap_or(1e-6),
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(false),
            mask_token_id,
            eos_token_ids: match self.eos_token_id {
                None => Vec::new(),
                Some(TokenIds::One(id)) => vec![id],
                Some(TokenIds::Many(ids)) => ids,
            },
            pad_token_id: self.pad_token_id,
            // Every supported architecture is adapted from an autoregressive Qwen2, hence shifted by default.
            shift_logits: self.shift_logits.unwrap_or(true),
            dtype: self.torch_dtype.or(self.dtype),
            adapter_rank: self.adapter_rank,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        serde_json::json!({
            "model_type": "qwen2", "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 128, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
            "mask_token_id": 1, "eos_token_id": 0
        })
    }

    fn parse(v: &Value) -> Result<ModelConfig> {
        ModelConfig::from_json(&v.to_string(), "config.json")
    }

    #[test]
    fn reads_both_rope_conventions() {
        let old = parse(&base()).unwrap();
        let mut new = base();
        new.as_object_mut().unwrap().remove("rope_theta");
        new["rope_parameters"] = serde_json::json!({"rope_theta": 10000.0, "rope_type": "default"});
        assert_eq!(parse(&new).unwrap(), old);
        assert_eq!(old.head_dim, 16);
        assert_eq!(old.group_size(), 2);
        assert!(old.shift_logits);
    }

    #[test]
    fn round_trips_through_hf_json() {
        let config = parse(&base()).unwrap();
        let again = parse(&config.to_hf_json()).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("mask_token_id");
        assert!(parse(&v).unwrap_err().to_string().contains("missing `mask_token_id`"));

        let mut v = base();
        v["num_key_value_heads"] = 3.into();
        assert!(parse(&v).unwrap_err().to_string().contains("not a multiple of num_key_value_heads 3"));

        let mut v = base();
        v["hidden_size"] = "big".into();
        let err = parse(&v).unwrap_err().to_string();
        assert!(err.contains("`hidden_size`: invalid type: string \"big\""), "{err}");

        let mut v = base();
        v["mask_token_id"] = 9999.into();
        assert!(parse(&v).unwrap_err().to_string().contains("mask_token_id 9999 is outside the vocabulary"));

        let mut v = base();
        v["model_type"] = "gpt2".into();
        assert!(parse(&v).unwrap_err().to_string().contains("unsupported model: model_type `gpt2`"));

        let mut v = base();
        v["model_type"] = "llama".into();
        v["attention_bias"] = true.into();
        assert!(parse(&v).unwrap_err().to_string().contains("`attention_bias: true`"));

        let mut v = base();
        v["attention"] = "block_causal".into();
        assert!(parse(&v).unwrap_err().to_string().contains("needs a `block_size`"));

        let err = ModelConfig::from_json("{\"model_type\": ", "config.json").unwrap_err().to_string();
        assert!(err.starts_with("config.json: malformed JSON"), "{err}");
    }

    #[test]
    fn architecture_decides_biases_and_default_attention() {
        let qwen2 = parse(&base()).unwrap();
        assert_eq!(
            (qwen2.architecture, qwen2.qkv_bias, qwen2.attention),
            (Architecture::Qwen2, true, AttentionKind::Bidirectional)
        );
        let mut v = base();
        v["model_type"] = "llama".into();
        let llama = parse(&v).unwrap();
        assert_eq!(
            (llama.architecture, llama.qkv_bias, llama.attention),
            (Architecture::Llama, false, AttentionKind::Causal)
        );
        v["attention"] = "block_causal".into();
        v["block_size"] = 4.into();
        let block = parse(&v).unwrap();
        assert_eq!(block.attention, AttentionKind::BlockCausal { block_size: 4 });
        assert_eq!(parse(&block.to_hf_json()).unwrap(), block);
        // Llama has no biases: 2 × (64 + 2 · 32) fewer parameters than the same Qwen2.
        assert_eq!(qwen2.parameter_count() - llama.parameter_count(), 2 * (64 + 2 * 32));
    }

    #[test]
    fn parameter_count_matches_hand_count() {
        // embed 512*64 + per layer (q 64*64+64, k/v 2*(64*32+32), o 64*64, mlp 3*64*128, norms 2*64)
        // + final norm 64 + untied head 512*64.
        let config = parse(&base()).unwrap();
        let layer = (4096 + 64) + 2 * (2048 + 32) + 4096 + 3 * 8192 + 128;
        assert_eq!(config.parameter_count(), 32768 + 2 * layer + 64 + 32768);
    }

    #[test]
    fn a_pass_stops_after_the_block_of_the_last_logits_row() {
        let mut c = parse(&base()).unwrap();
        let m = c.mask_token_id;
        let canvas = [vec![7; 4], vec![m; 16]].concat();
        c.shift_logits = true;
        c.attention = AttentionKind::BlockCausal { block_size: 4 };
        // Position 5 is predicted from row 4, whose block ends at 8.
        assert_eq!(c.rows_needed(&canvas, &[2, 5]), 8);
        // Position 4 is predicted from row 3 (block 0..4), but the position itself must be in the canvas.
        assert_eq!(c.rows_needed(&canvas, &[4]), 5);
        assert_eq!(c.rows_needed(&canvas, &[18]), 20);
        assert_eq!(c.rows_needed(&canvas, &[]), 20);
        // Mask-gated: a mask row sees its block, a token row only itself and before.
        c.attention = AttentionKind::MasksSeeBlock { block_size: 4 };
        assert_eq!(c.rows_needed(&canvas, &[6]), 8);
        let written = [vec![7; 6], vec![m; 14]].concat();
        assert_eq!(c.rows_needed(&written, &[6]), 7);
        // The last position's row is a token (6 would do), an earlier one's a mask that sees its whole block.
        let drafted = [vec![7; 4], vec![m, 7, m, m], vec![m; 12]].concat();
        assert_eq!(c.rows_needed(&drafted, &[6]), 7);
        assert_eq!(c.rows_needed(&drafted, &[5, 6]), 8);
        c.attention = AttentionKind::Causal;
        assert_eq!(c.rows_needed(&canvas, &[5]), 6);
        c.shift_logits = false;
        assert_eq!(c.rows_needed(&canvas, &[5]), 6);
        c.attention = AttentionKind::Bidirectional;
        assert_eq!(c.rows_needed(&canvas, &[5]), 20);
    }
}
