//! The weights of a decoder by name: the one place that knows the Hugging Face tensor names and shapes, and
//! the one loader every engine reads them through.

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::quant::{QuantScheme, QuantTensor};
use crate::weights::Weights;

pub const EMBED: &str = "model.embed_tokens.weight";
pub const FINAL_NORM: &str = "model.norm.weight";
pub const LM_HEAD: &str = "lm_head.weight";
/// The input embedding of mask positions in a mask-gated model (`[hidden]`).
pub const MASK_EMBEDDING: &str = "model.mask_embedding";

/// `model.layers.{layer}.{suffix}`.
fn layer_tensor(layer: usize, suffix: &str) -> String {
    format!("model.layers.{layer}.{suffix}")
}

/// A matrix as the file stores it: floats (converted to f32) or quantized words and scales.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    F32 { rows: usize, cols: usize, values: Vec<f32> },
    Quant(QuantTensor),
}

impl Stored {
    pub fn rows(&self) -> usize {
        match self {
            Stored::F32 { rows, .. } => *rows,
            Stored::Quant(q) => q.rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Stored::F32 { cols, .. } => *cols,
            Stored::Quant(q) => q.cols,
        }
    }

    /// The values as f32, dequantized if stored quantized.
    pub fn into_f32(self) -> Vec<f32> {
        match self {
            Stored::F32 { values, .. } => values,
            Stored::Quant(q) => q.dequantize(),
        }
    }

    /// How an engine loads a matrix: quantized files run as stored, float weights are quantized to `scheme`
    /// when one is asked for (or the error says why they cannot be).
    pub fn quantized_to(self, scheme: Option<QuantScheme>, group_size: usize) -> Result<Stored> {
        Ok(match (self, scheme) {
            (Stored::F32 { rows, cols, values }, Some(scheme)) => {
                Stored::Quant(QuantTensor::quantize(&values, rows, cols, scheme, group_size)?)
            }
            (stored, _) => stored,
        })
    }
}

/// The biases of the q, k and v projections (Qwen2).
#[derive(Clone, Debug, PartialEq)]
pub struct QkvBias {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

/// A mask-gated low-rank update of one projection `y = x·Wᵀ`: mask rows get `x·Aᵀ·Bᵀ` added. `a` is
/// `[rank, inner]`, `b` is `[outer, rank]` with the adapter's scale folded in; both f32 (they are small).
#[derive(Clone, Debug, PartialEq)]
pub struct LowRank {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub rank: usize,
}

/// The low-rank updates of one layer's seven projections (`adapter_rank` in config.json).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerAdapter {
    pub q: LowRank,
    pub k: LowRank,
    pub v: LowRank,
    pub o: LowRank,
    pub gate: LowRank,
    pub up: LowRank,
    pub down: LowRank,
}

/// One decoder layer; `M` is how an engine holds a matrix. Norm weights and biases are always f32.
pub struct LayerTensors<M> {
    pub input_norm: Vec<f32>,
    pub q: M,
    pub k: M,
    pub v: M,
    pub qkv_bias: Option<QkvBias>,
    pub o: M,
    pub post_norm: Vec<f32>,
    pub gate: M,
    pub up: M,
    pub down: M,
    pub adapter: Option<LayerAdapter>,
}

/// Every weight of a decoder.
pub struct DecoderTensors<M> {
    pub embed: M,
    pub layers: Vec<LayerTensors<M>>,
    pub final_norm: Vec<f32>,
    /// `None` when the head is tied to the embedding.
    pub head: Option<M>,
    /// What mask positions read instead of the embedding row of the mask token, in a mask-gated model.
    pub mask_embedding: Option<Vec<f32>>,
}

/// A tensor's name and shape.
type Named = (String, Vec<usize>);

/// The names of one layer's tensors with their shapes, in the order files list them.
struct LayerNames {
    input_norm: (String, Vec<usize>),
    q: (String, Vec<usize>),
    k: (String, Vec<usize>),
    v: (String, Vec<usize>),
    o: (String, Vec<usize>),
    post_norm: (String, Vec<usize>),
    gate: (String, Vec<usize>),
    up: (String, Vec<usize>),
    down: (String, Vec<usize>),
    /// q, k, v biases, when the architecture has them.
    bias: Option<[(String, Vec<usize>); 3]>,
    /// `lora_a` and `lora_b` of q, k, v, o, gate, up, down, when the model has adapters.
    adapter: Option<[[Named; 2]; 7]>,
}

impl LayerNames {
    fn new(config: &ModelConfig, layer: usize) -> Self {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let q = config.num_attention_heads * config.head_dim;
        let kv = config.num_key_value_heads * config.head_dim;
        let named = |suffix: &str, shape: Vec<usize>| (layer_tensor(layer, suffix), shape);
        let low_rank = |projection: &str, outer: usize, inner: usize| {
            let r = config.adapter_rank.unwrap_or(0);
            [
                named(&format!("{projection}.lora_a"), vec![r, inner]),
                named(&format!("{projection}.lora_b"), vec![outer, r]),
            ]
        };
        LayerNames {
            input_norm: named("input_layernorm.weight", vec![h]),
            q: named("self_attn.q_proj.weight", vec![q, h]),
            k: named("self_attn.k_proj.weight", vec![kv, h]),
            v: named("self_attn.v_proj.weight", vec![kv, h]),
            o: named("self_attn.o_proj.weight", vec![h, q]),
            post_norm: named("post_attention_layernorm.weight", vec![h]),
            gate: named("mlp.gate_proj.weight", vec![i, h]),
            up: named("mlp.up_proj.weight", vec![i, h]),
            down: named("mlp.down_proj.weight", vec![h, i]),
            bias: config.qkv_bias.then(|| {
                [
                    named("self_attn.q_proj.bias", vec![q]),
                    named("self_attn.k_proj.bias", vec![kv]),
                    named("self_attn.v_proj.bias", vec![kv]),
                ]
            }),
            adapter: config.adapter_rank.map(|_| {
                [
                    low_rank("self_attn.q_proj", q, h),
                    low_rank("self_attn.k_proj", kv, h),
                    low_rank("self_attn.v_proj", kv, h),
                    low_rank("self_attn.o_proj", h, q),
                    low_rank("mlp.gate_proj", i, h),
                    low_rank("mlp.up_proj", i, h),
                    low_rank("mlp.down_proj", h, i),
                ]
            }),
        }
    }

    fn all(self) -> Vec<(String, Vec<usize>)> {
        let mut all =
            vec![self.input_norm, self.q, self.k, self.v, self.o, self.post_norm, self.gate, self.up, self.down];
        all.extend(self.bias.into_iter().flatten());
        all.extend(self.adapter.into_iter().flatten().flatten());
        all
    }
}

/// Whether `name` is a factor of a mask-gated low-rank update (`….lora_a` / `….lora_b`): small, and read as f32.
pub fn is_low_rank_factor(name: &str) -> bool {
    name.ends_with(".lora_a") || name.ends_with(".lora_b")
}

/// Every tensor the forward pass reads, with the shape `config.json` implies, in the order files list them.
pub fn tensor_names(config: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let (h, v) = (config.hidden_size, config.vocab_size);
    let mut tensors = vec![(EMBED.to_owned(), vec![v, h])];
    for layer in 0..config.num_hidden_layers {
        tensors.extend(LayerNames::new(config, layer).all());
    }
    tensors.push((FINAL_NORM.to_owned(), vec![h]));
    if !config.tie_word_embeddings {
        tensors.push((LM_HEAD.to_owned(), vec![v, h]));
    }
    if config.adapter_rank.is_some() {
        tensors.push((MASK_EMBEDDING.to_owned(), vec![h]));
    }
    tensors
}

/// Checks that `weights` holds every tensor the config implies, with the right shape, before any engine
/// spends time converting them.
pub fn check(config: &ModelConfig, weights: &Weights) -> Result<()> {
    // Every layer has at least seven tensors: a config claiming more layers than the file can hold fails here,
    // before `tensor_names` lists them all.
    let tensors = weights.names().len();
    if config.num_hidden_layers > tensors / 7 {
        return Err(ModelError::Config {
            file: "config.json".into(),
            message: format!(
                "num_hidden_layers is {}, but the weights ({}) hold {tensors} tensors, enough for at most {}",
                config.num_hidden_layers,
                weights.describe_files(),
                tensors / 7
            ),
        });
    }
    for (name, shape) in tensor_names(config) {
        let info = weights.info(&name).ok_or_else(|| {
            let hint = match name.as_str() {
                LM_HEAD => " (or set tie_word_embeddings in config.json)",
                n if n.ends_with(".bias") => " (a qwen2 model has q/k/v biases; is model_type right?)",
                n if n.contains("lora_") || n == MASK_EMBEDDING => {
                    " (config.json's adapter_rank asks for mask-gated adapters)"
                }
                _ => "",
            };
            ModelError::MissingTensor { name: format!("{name}{hint}"), files: weights.describe_files() }
        })?;
        if info.shape != shape {
            return Err(ModelError::Tensor {
                file: weights.file_of(&name).to_owned(),
                name,
                message: format!("shape {:?}, expected {:?} from config.json", info.shape, shape),
            });
        }
    }
    Ok(())
}

impl<M> DecoderTensors<M> {
    /// Reads every weight the config implies, after checking all their names and shapes, and hands each
    /// matrix as stored to `matrix` (called in file order, so an engine converts one at a time).
    pub fn load<E: From<ModelError>>(
        config: &ModelConfig,
        weights: &Weights,
        mut matrix: impl FnMut(&str, Stored) -> Result<M, E>,
    ) -> Result<Self, E> {
        check(config, weights)?;
        let mut read = |(name, shape): &(String, Vec<usize>)| -> Result<M, E> {
            let stored = weights.matrix(name, shape[0], shape[1])?;
            matrix(name, stored)
        };
        let vector = |(name, shape): &(String, Vec<usize>)| weights.f32(name, shape);
        let embed = read(&(EMBED.to_owned(), vec![config.vocab_size, config.hidden_size]))?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for layer in 0..config.num_hidden_layers {
            let names = LayerNames::new(config, layer);
            let qkv_bias = match &names.bias {
                Some([q, k, v]) => Some(QkvBias { q: vector(q)?, k: vector(k)?, v: vector(v)? }),
                None => None,
            };
            let low_rank = |[a, b]: &[Named; 2]| -> Result<LowRank, E> {
                Ok(LowRank { a: vector(a)?, b: vector(b)?, rank: a.1[0] })
            };
            let adapter = match &names.adapter {
                Some([q, k, v, o, gate, up, down]) => Some(LayerAdapter {
                    q: low_rank(q)?,
                    k: low_rank(k)?,
                    v: low_rank(v)?,
                    o: low_rank(o)?,
                    gate: low_rank(gate)?,
                    up: low_rank(up)?,
                    down: low_rank(down)?,
                }),
                None => None,
            };
            layers.push(LayerTensors {
                input_norm: vector(&names.input_norm)?,
                q: read(&names.q)?,
                k: read(&names.k)?,
                v: read(&names.v)?,
                qkv_bias,
                o: read(&names.o)?,
                post_norm: vector(&names.post_norm)?,
                gate: read(&names.gate)?,
                up: read(&names.up)?,
                down: read(&names.down)?,
                adapter,
            });
        }
        let final_norm = vector(&(FINAL_NORM.to_owned(), vec![config.hidden_size]))?;
        let head = if config.tie_word_embeddings {
            None
        } else {
            Some(read(&(LM_HEAD.to_owned(), vec![config.vocab_size, config.hidden_size]))?)
        };
        let mask_embedding = match config.adapter_rank {
            Some(_) => Some(vector(&(MASK_EMBEDDING.to_owned(), vec![config.hidden_size]))?),
            None => None,
        };
        Ok(DecoderTensors { embed, layers, final_norm, head, mask_embedding })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_claiming_more_layers_than_the_file_holds_fails_at_once() {
        let small = ModelConfig::of_shape(16, 2, 2, 1, 32, 64, 32);
        let weights = Weights::random(&small, 1);
        let huge = ModelConfig { num_hidden_layers: 1_000_000_000_000, ..small.clone() };
        let err = check(&huge, &weights).unwrap_err().to_string();
        assert!(err.contains("num_hidden_layers is 1000000000000, but the weights"), "{err}");
        let three = ModelConfig { num_hidden_layers: 3, ..small.clone() };
        let err = check(&three, &weights).unwrap_err().to_string();
        assert!(err.contains("model.layers.2."), "{err}");
        check(&small, &weights).unwrap();
    }
}
