//! GGUF import: a llama.cpp model file read into our model layout (config, weights by Hugging Face name,
//! tokenizer), so `--model file.gguf` works wherever a model directory does.
//!
//! - `reader.rs`: the container (v2/v3), every size checked before it is used.
//! - `tensor.rs`: GGML types → ours (Q8_0/Q4_0/Q4_1/Q5_0/Q4_K/Q6_K matrices as our q8/q4/q4a, the rest widened
//!   to f32); `kquant.rs` decodes the 5-bit and K types' blocks.
//! - `names.rs`: llama.cpp tensor names → Hugging Face names; Llama's Q/K rows back to rotate-half order.
//! - `tokenizer.rs`: `tokenizer.ggml.*` → a `tokenizer.json`.
//!
//! A GGUF model is autoregressive unless its metadata says otherwise, so it gets causal attention and the
//! logit shift. It has no mask token; the import picks a placeholder (see [`mask_placeholder`]) that a causal
//! model never sees where it matters: with causal attention the row that predicts position `p` reads only
//! positions before `p`, so under left-to-right decoding it reads committed tokens alone. Metadata keys
//! `unmask.mask_token_id`, `unmask.attention`, `unmask.block_size` and `unmask.shift_logits` override all this
//! (for GGUF files of diffusion models).

mod kquant;
mod names;
mod reader;
mod tensor;
mod tokenizer;

use std::collections::BTreeMap;

pub use reader::{GgufFile, TensorInfo, Value};
pub use tensor::{GgmlType, dequantize, to_tensor_data};

use crate::arch::Architecture;
pub use crate::error::GgufError;
use crate::weights::TensorData;

/// Whether `bytes` start like a GGUF file.
pub fn is_gguf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"GGUF")
}

/// A GGUF file in our layout.
pub struct Imported {
    /// `config.json` text (a Hugging Face config, as `unmask convert` writes it).
    pub config_json: String,
    /// Tensors by Hugging Face name, in the file's order.
    pub tensors: Vec<(String, TensorData)>,
    pub tokenizer_json: String,
    /// What the import decided that the file did not say (shown by `unmask inspect`).
    pub notes: Vec<String>,
    /// `tokenizer.chat_template` (Jinja), when the file has one.
    pub chat_template: Option<String>,
}

/// Reads a GGUF model.
pub fn import(bytes: &[u8]) -> Result<Imported, GgufError> {
    let file = GgufFile::parse(bytes)?;
    let meta = &file.metadata;
    let mut notes = Vec::new();
    let (arch, config) = hf_config(&file, &mut notes)?;
    let heads = |key| config[key].as_u64().unwrap_or(0) as usize;
    let tensors = hf_tensors(&file, arch, heads("num_attention_heads"), heads("num_key_value_heads"), &mut notes)?;
    notes.extend(tensor_type_notes(&file));
    let chat_template = meta.get("tokenizer.chat_template").and_then(Value::as_str).map(str::to_owned);
    Ok(Imported {
        config_json: config.to_string(),
        tensors,
        tokenizer_json: tokenizer::tokenizer_json(meta)?,
        notes,
        chat_template,
    })
}

/// The architecture and a Hugging Face config.json from the file's metadata (`{arch}.*`, `tokenizer.ggml.*`,
/// and the `unmask.*` keys our own files carry).
fn hf_config(file: &GgufFile, notes: &mut Vec<String>) -> Result<(Architecture, serde_json::Value), GgufError> {
    let meta = &file.metadata;
    let arch_name = meta.get("general.architecture").and_then(Value::as_str).unwrap_or("");
    let arch = match arch_name {
        "llama" => Architecture::Llama,
        "qwen2" => Architecture::Qwen2,
        other => {
            return Err(GgufError::Unsupported(format!("general.architecture `{other}` (supported: llama, qwen2)")));
        }
    };
    let number = |key: &str| -> Result<Option<u64>, GgufError> {
        match meta.get(&format!("{arch_name}.{key}")) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| GgufError::Unsupported(format!("{arch_name}.{key} is {}, not one number", v.summary()))),
        }
    };
    let required = |key: &str| number(key)?.ok_or_else(|| GgufError::Format(format!("missing {arch_name}.{key}")));
    let float = |key: &str| meta.get(&format!("{arch_name}.{key}")).and_then(Value::as_f64);
    if let Some(scaling) = meta.get(&format!("{arch_name}.rope.scaling.type")).and_then(Value::as_str)
        && scaling != "none"
    {
        return Err(GgufError::Unsupported(format!("RoPE scaling `{scaling}` (only plain RoPE)")));
    }
    let hidden = required("embedding_length")?;
    let heads = required("attention.head_count")?;
    let kv_heads = number("attention.head_count_kv")?.unwrap_or(heads);
    let head_dim = match number("attention.key_length")? {
        Some(d) => d,
        None if heads > 0 => hidden / heads,
        None => return Err(GgufError::Format("attention.head_count is 0".into())),
    };
    if let Some(rotated) = number("rope.dimension_count")?
        && rotated != head_dim
    {
        return Err(GgufError::Unsupported(format!("RoPE on {rotated} of {head_dim} head dimensions")));
    }
    let tokens = meta.get("tokenizer.ggml.tokens").and_then(Value::as_array).map_or(0, <[Value]>::len);
    let vocab = number("vocab_size")?.unwrap_or(tokens as u64);
    let token = |key: &str| meta.get(&format!("tokenizer.ggml.{key}")).and_then(Value::as_u64);
    let eos: Vec<u64> = [token("eos_token_id"), token("eot_token_id")].into_iter().flatten().collect();
    let mask = match meta.get("unmask.mask_token_id").and_then(Value::as_u64) {
        Some(id) => id,
        None => {
            let id = mask_placeholder(meta, vocab)?;
            notes.push(format!(
                "mask token: none in the file; id {id} (an unused control token) holds masked positions"
            ));
            u64::from(id)
        }
    };
    let attention = meta.get("unmask.attention").and_then(Value::as_str).unwrap_or("causal");
    let tied = file.tensor("output.weight").is_none();
    let mut config = serde_json::json!({
        "architectures": [arch.spec().hf_class],
        "model_type": arch_name,
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": required("feed_forward_length")?,
        "num_hidden_layers": required("block_count")?,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": required("context_length")?,
        "rope_theta": float("rope.freq_base").unwrap_or(10_000.0),
        "rms_norm_eps": float("attention.layer_norm_rms_epsilon").unwrap_or(1e-6),
        "hidden_act": "silu",
        "tie_word_embeddings": tied,
        "mask_token_id": mask,
        "eos_token_id": eos,
        "pad_token_id": token("padding_token_id"),
        "bos_token_id": token("bos_token_id"),
        "shift_logits": meta.get("unmask.shift_logits").and_then(Value::as_bool).unwrap_or(true),
        "attention": attention,
        "torch_dtype": "float32",
    });
    if let Some(block) = meta.get("unmask.block_size").and_then(Value::as_u64) {
        config["block_size"] = block.into();
    }
    Ok((arch, config))
}

/// The file's tensors under their Hugging Face names, in the file's order, with llama.cpp's q/k row order undone.
fn hf_tensors(
    file: &GgufFile,
    arch: Architecture,
    heads: usize,
    kv_heads: usize,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, TensorData)>, GgufError> {
    let mut tensors = Vec::with_capacity(file.tensors.len());
    for info in &file.tensors {
        let Some(name) = names::hf_name(&info.name) else {
            notes.push(format!("tensor `{}` ignored (not read by the decoder)", info.name));
            continue;
        };
        let shape = info.shape();
        if shape.len() > 2 {
            return Err(GgufError::Unsupported(format!("tensor `{}` has {} dimensions", info.name, shape.len())));
        }
        let mut data = tensor::to_tensor_data(info.kind, file.data(info), shape.clone(), &info.name)?;
        if let Some(n) = names::permuted_heads(arch, &info.name, heads, kv_heads) {
            if n == 0 || shape[0] == 0 || !shape[0].is_multiple_of(2 * n) {
                return Err(GgufError::Format(format!(
                    "tensor `{}`: {} rows are not {n} heads of an even size",
                    info.name, shape[0]
                )));
            }
            data = names::unpermute_rows(data, n);
        }
        tensors.push((name, data));
    }
    Ok(tensors)
}

/// What `unmask inspect` says of the file's tensor types: how many of each, and which run widened to f32.
fn tensor_type_notes(file: &GgufFile) -> Vec<String> {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for t in &file.tensors {
        *kinds.entry(format!("{:?}", t.kind)).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.into_iter().map(|(kind, n)| format!("{kind} {n}")).collect();
    let mut notes = vec![format!("tensor types in the file: {}", kinds.join(", "))];
    let widened: Vec<&TensorInfo> = file.tensors.iter().filter(|t| !t.kind.runs_as_stored()).collect();
    if let Some(example) = widened.first() {
        let mut kinds: Vec<String> = widened.iter().map(|t| format!("{:?}", t.kind)).collect();
        kinds.sort();
        kinds.dedup();
        notes.push(format!(
            "{} tensors (such as `{}`) are {}, which run as f32 here (dequantized exactly)",
            widened.len(),
            example.name,
            kinds.join(", ")
        ));
    }
    notes
}

/// The id that holds masked positions in a model without a mask token: the last control token that is not
/// the beginning, end, padding or unknown token (SmolLM2: 16, `<empty_output>`).
fn mask_placeholder(meta: &BTreeMap<String, Value>, vocab: u64) -> Result<u32, GgufError> {
    let reserved: Vec<u64> = ["bos_token_id", "eos_token_id", "eot_token_id", "padding_token_id", "unknown_token_id"]
        .iter()
        .filter_map(|key| meta.get(&format!("tokenizer.ggml.{key}")).and_then(Value::as_u64))
        .collect();
    tokenizer::control_tokens(meta)
        .into_iter()
        .rev()
        .find(|&id| u64::from(id) < vocab && !reserved.contains(&u64::from(id)))
        .ok_or_else(|| {
            GgufError::Unsupported(
                "no mask token and no spare control token to hold masked positions (set unmask.mask_token_id)".into(),
            )
        })
}
