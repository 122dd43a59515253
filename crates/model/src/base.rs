//! Models shipped as a delta over a pretrained base: the repository holds only what training changed (mask-gated
//! adapters, a few tensors), the base is fetched once, checked by hash, into a cache outside the repository.
//!
//! A delta directory's `config.json` names its base:
//!
//! ```json
//! "base_model": { "name": "qwen2.5-coder-0.5b-instruct", "file": "qwen2.5-coder-0.5b-instruct.gguf",
//!                 "fetch": "cargo xtask qwen-coder --fetch" }
//! ```
//!
//! and [`ModelDir::open`](crate::ModelDir::open) composes the two: the base's weights, tokenizer and chat
//! template with the directory's config and `model.safetensors` (whose tensors must be new names: a delta adds,
//! it never silently shadows a base tensor).

use std::path::PathBuf;

use serde::Deserialize;

/// The `base_model` entry of a delta's `config.json`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct BaseModel {
    /// The cache subdirectory the fetch writes.
    pub name: String,
    /// The file in it.
    pub file: String,
    /// The command that fetches it, for the error when it is missing.
    pub fetch: String,
}

impl BaseModel {
    /// The `base_model` of a `config.json` text, if it names one.
    pub fn of_config(config_json: &str) -> Option<Result<Self, String>> {
        let raw: serde_json::Value = serde_json::from_str(config_json).ok()?;
        let base = raw.get("base_model")?;
        Some(serde_json::from_value(base.clone()).map_err(|e| format!("`base_model`: {e}")))
    }

    /// Where the fetched base lives, whether or not it is there yet.
    pub fn path(&self) -> Option<PathBuf> {
        Some(cache_dir()?.join(&self.name).join(&self.file))
    }
}

/// Where fetched models live: `$UNMASK_CACHE`, else `$XDG_CACHE_HOME/unmask`, else `~/.cache/unmask`; `None`
/// when none of those variables is set.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("UNMASK_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("unmask"));
    }
    Some(PathBuf::from(std::env::var_os("HOME")?).join(".cache/unmask"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_base_model_entry() {
        let config = r#"{"model_type": "qwen2", "base_model": {"name": "q", "file": "q.gguf", "fetch": "get it"}}"#;
        let base = BaseModel::of_config(config).unwrap().unwrap();
        assert_eq!(base, BaseModel { name: "q".into(), file: "q.gguf".into(), fetch: "get it".into() });
        assert!(BaseModel::of_config(r#"{"model_type": "qwen2"}"#).is_none());
        let err = BaseModel::of_config(r#"{"base_model": {"name": "q"}}"#).unwrap().unwrap_err();
        assert!(err.contains("missing field `file`"), "{err}");
    }
}
