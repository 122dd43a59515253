//! The model-directory contract shared by every engine: a Hugging Face Qwen2 / Dream / DiffuCoder directory
//! (`config.json`, safetensors weights, `tokenizer.json`), plus the trace types every part of the product speaks.
//!
//! **Invariant:** no GPU, no DOM, no threads; the only I/O is reading a model directory natively (wasm callers
//! hand over bytes).

pub mod arch;
pub mod base;
pub mod canvas;
pub mod config;
pub mod convert;
pub mod error;
pub mod gguf;
pub mod prompt;
pub mod quant;
pub mod tokenizer;
pub mod trace;
pub mod weights;

pub use arch::{Architecture, AttentionKind, DecoderTensors, LayerAdapter, LayerTensors, LowRank, Stored};
pub use canvas::{CanvasError, check_canvas, check_positions};
pub use config::ModelConfig;
pub use error::{ModelError, Result};
pub use quant::{QuantScheme, QuantTensor};
pub use tokenizer::Tokenizer;
pub use trace::{ArNess, Proposal, Trace, TraceStep};
pub use weights::{ByteSource, FileBytes, TensorData, TensorInfo, Weights, write_safetensors};

/// A loaded model directory: validated config, weights whose names and shapes match it, and the tokenizer.
pub struct ModelDir {
    /// Where it came from (a path natively, a name in the browser).
    pub name: String,
    pub config: ModelConfig,
    pub weights: Weights,
    pub tokenizer: Tokenizer,
    /// What loading decided that the files did not say (a GGUF import's mask placeholder, for one).
    pub notes: Vec<String>,
    /// The chat template, when the model has one the product can render (a GGUF file's
    /// `tokenizer.chat_template`, a directory's `chat_template.jinja`).
    pub chat_template: Option<prompt::ChatTemplate>,
}

/// The tokenizer in `tokenizer_json`, checked to emit only ids the model has (the page, whose weights live in
/// its worker, builds it without a [`ModelDir`]).
pub fn tokenizer_for(config: &ModelConfig, tokenizer_json: &[u8]) -> Result<Tokenizer> {
    let tokenizer = Tokenizer::from_bytes(tokenizer_json)?;
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(ModelError::Tokenizer {
            message: format!(
                "{} tokens, more than the model's vocab_size {}",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        });
    }
    Ok(tokenizer)
}

impl ModelDir {
    /// Assembles a model from its three parts, checking that they agree.
    pub fn from_parts(name: String, config_json: &str, weights: Weights, tokenizer_json: &[u8]) -> Result<Self> {
        let config = ModelConfig::from_json(config_json, "config.json")?;
        arch::check(&config, &weights)?;
        let tokenizer = tokenizer_for(&config, tokenizer_json)?;
        Ok(Self { name, config, weights, tokenizer, notes: Vec::new(), chat_template: None })
    }

    /// A model from the bytes of a GGUF file (see [`gguf`]).
    pub fn from_gguf(name: String, bytes: &[u8]) -> Result<Self> {
        let fail = |error| ModelError::Gguf { file: name.clone(), error };
        let imported = gguf::import(bytes).map_err(fail)?;
        let weights = Weights::from_tensors(&name, imported.tensors)?;
        let mut model = Self::from_parts(name, &imported.config_json, weights, imported.tokenizer_json.as_bytes())?;
        model.notes = imported.notes;
        model.chat_template = imported.chat_template.as_deref().and_then(prompt::ChatTemplate::from_jinja);
        Ok(model)
    }

    /// Opens a model directory from disk (weights memory-mapped), or a GGUF file.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open(dir: &std::path::Path) -> Result<Self> {
        if dir.is_file() {
            let bytes = std::fs::read(dir).map_err(|e| ModelError::io(dir, e))?;
            if !gguf::is_gguf(&bytes) {
                let error = std::io::Error::other("a file that is not GGUF (a model is a directory or a .gguf file)");
                return Err(ModelError::io(dir, error));
            }
            return Self::from_gguf(dir.display().to_string(), &bytes);
        }
        if !dir.is_dir() {
            let error = std::io::Error::new(std::io::ErrorKind::NotFound, "no such model directory");
            return Err(ModelError::io(dir, error));
        }
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|e| ModelError::io(path, e))
        };
        let config_json = read("config.json")?;
        let config_json = String::from_utf8(config_json)
            .map_err(|_| ModelError::Json { path: dir.join("config.json"), message: "not UTF-8 text".into() })?;
        // Parse the config first so a malformed one is reported with its full path.
        let config_path = dir.join("config.json").display().to_string();
        ModelConfig::from_json(&config_json, &config_path)?;
        if let Some(base) = base::BaseModel::of_config(&config_json) {
            let base = base.map_err(|message| ModelError::Config { file: config_path, message })?;
            let missing = |why: &str| {
                let message =
                    format!("{why}; this model is a delta over {}: fetch it with `{}`", base.name, base.fetch);
                ModelError::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, message))
            };
            let path = base.path().ok_or_else(|| missing("no cache directory (set UNMASK_CACHE or HOME)"))?;
            if !path.exists() {
                return Err(missing(&format!("{} is not there", path.display())));
            }
            return Self::open_delta(dir, Self::open(&path)?);
        }
        let tokenizer_json = read("tokenizer.json")?;
        let weights = Weights::open(dir)?;
        let mut model = Self::from_parts(dir.display().to_string(), &config_json, weights, &tokenizer_json)?;
        let template = dir.join("chat_template.jinja");
        if template.exists() {
            let text = std::fs::read_to_string(&template).map_err(|e| ModelError::io(&template, e))?;
            model.chat_template = prompt::ChatTemplate::from_jinja(&text);
        }
        Ok(model)
    }

    /// A delta directory (see [`base`]) over its base, already opened: the base's weights, tokenizer and chat
    /// template with the directory's config and `model.safetensors`. A directory without weights is the base
    /// itself with the directory's config and recommended decoding.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open_delta(dir: &std::path::Path, base: ModelDir) -> Result<Self> {
        let config_path = dir.join("config.json");
        let config_json = std::fs::read_to_string(&config_path).map_err(|e| ModelError::io(&config_path, e))?;
        let has_weights = dir.join("model.safetensors").exists() || dir.join("model.safetensors.index.json").exists();
        let weights = if has_weights { base.weights.join(Weights::open(dir)?)? } else { base.weights };
        let name = dir.display().to_string();
        let mut model = Self::from_parts(name, &config_json, weights, base.tokenizer.to_json()?.as_bytes())?;
        model.chat_template = base.chat_template;
        let what = if has_weights { "a delta over" } else { "the fetched" };
        model.notes = vec![format!("{what} {}", base.name)];
        Ok(model)
    }
}
