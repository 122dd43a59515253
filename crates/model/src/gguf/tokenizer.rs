//! A `tokenizer.json` built from a GGUF file's `tokenizer.ggml.*` metadata: GPT-2-style byte-level BPE (the
//! vocabulary is stored byte-level encoded, as in Hugging Face files), the pre-tokenizer llama.cpp names in
//! `tokenizer.ggml.pre`, control tokens as special added tokens. No BOS or EOS is added to encoded text.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::GgufError;
use super::reader::Value;

/// GGUF token types (llama.cpp's `llama_token_type`).
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;
const UNKNOWN: i64 = 2;

/// The regular expression Qwen2's tokenizer splits text with before byte-level encoding.
const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn strings<'a>(meta: &'a BTreeMap<String, Value>, key: &str) -> Result<Vec<&'a str>, GgufError> {
    let array = meta
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| GgufError::Format(format!("missing `{key}` (an array of strings)")))?;
    array.iter().map(|v| v.as_str().ok_or_else(|| GgufError::Format(format!("`{key}` holds a non-string")))).collect()
}

/// The pre-tokenizer of llama.cpp's `tokenizer.ggml.pre` name.
fn pre_tokenizer(pre: &str) -> Result<Json, GgufError> {
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    Ok(match pre {
        "default" | "gpt2" | "gpt-2" => byte_level(true),
        // Every digit on its own, then GPT-2's split.
        "smollm" | "starcoder" | "refact" | "codeshell" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            byte_level(true),
        ]}),
        "qwen2" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": false},
            byte_level(false),
        ]}),
        other => {
            return Err(GgufError::Unsupported(format!(
                "tokenizer.ggml.pre `{other}` (supported: default, gpt2, smollm, starcoder, refact, codeshell, qwen2)"
            )));
        }
    })
}

/// The `tokenizer.json` text of the file's tokenizer.
pub fn tokenizer_json(meta: &BTreeMap<String, Value>) -> Result<String, GgufError> {
    let model = meta.get("tokenizer.ggml.model").and_then(Value::as_str).unwrap_or("");
    if model != "gpt2" {
        return Err(GgufError::Unsupported(format!("tokenizer.ggml.model `{model}` (only gpt2, byte-level BPE)")));
    }
    let tokens = strings(meta, "tokenizer.ggml.tokens")?;
    let merges = strings(meta, "tokenizer.ggml.merges")?;
    let types: Vec<i64> = match meta.get("tokenizer.ggml.token_type").and_then(Value::as_array) {
        Some(types) if types.len() == tokens.len() => types
            .iter()
            .map(|t| match t {
                Value::I32(t) => Ok(i64::from(*t)),
                other => other
                    .as_u64()
                    .map(|t| t as i64)
                    .ok_or_else(|| GgufError::Format("tokenizer.ggml.token_type holds a non-integer".into())),
            })
            .collect::<Result<_, _>>()?,
        Some(types) => {
            return Err(GgufError::Format(format!("{} token types for {} tokens", types.len(), tokens.len())));
        }
        None => vec![1; tokens.len()],
    };
    let pre = meta.get("tokenizer.ggml.pre").and_then(Value::as_str).unwrap_or("default");
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, (&token, &kind)) in tokens.iter().zip(&types).enumerate() {
        vocab.entry(token.to_owned()).or_insert(Json::from(id));
        if matches!(kind, CONTROL | USER_DEFINED | UNKNOWN) {
            added.push(json!({
                "id": id, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": kind != USER_DEFINED,
            }));
        }
    }
    for merge in &merges {
        if merge.split_once(' ').is_none() {
            return Err(GgufError::Format(format!("merge {merge:?} is not two tokens separated by a space")));
        }
    }
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer(pre)?,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    });
    Ok(tokenizer.to_string())
}

/// Ids of the tokens of a type, for choosing a mask placeholder.
pub fn control_tokens(meta: &BTreeMap<String, Value>) -> Vec<u32> {
    let Some(types) = meta.get("tokenizer.ggml.token_type").and_then(Value::as_array) else {
        return Vec::new();
    };
    types
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, Value::I32(CONTROL_I32)))
        .filter_map(|(id, _)| u32::try_from(id).ok())
        .collect()
}

const CONTROL_I32: i32 = CONTROL as i32;
