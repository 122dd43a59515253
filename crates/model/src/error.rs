use std::path::PathBuf;

/// Everything that can go wrong while reading a model directory. Each message names the file and says what
/// is wrong with it in one line, because the CLI prints it as is.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    // Not `#[source]`: the message already includes it, and error chains would print it twice.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: malformed JSON: {message}")]
    Json { path: PathBuf, message: String },
    #[error("{file}: unsupported model: {message}")]
    Unsupported { file: String, message: String },
    #[error("{file}: invalid config: {message}")]
    Config { file: String, message: String },
    #[error("{file}: invalid safetensors: {message}")]
    Safetensors { file: String, message: String },
    #[error("{file}: tensor `{name}`: {message}")]
    Tensor { file: String, name: String, message: String },
    #[error("missing tensor `{name}` (looked in {files})")]
    MissingTensor { name: String, files: String },
    #[error("cannot quantize: {message}")]
    Quantize { message: String },
    #[error("tokenizer.json: {message}")]
    Tokenizer { message: String },
    #[error("{file}: {error}")]
    Gguf { file: String, error: GgufError },
}

/// What is wrong with a GGUF file (`ModelError::Gguf` adds the file's name).
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("malformed GGUF: {0}")]
    Format(String),
    #[error("unsupported GGUF: {0}")]
    Unsupported(String),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

// Only native code reads files; wasm callers hand over bytes.
#[cfg(not(target_arch = "wasm32"))]
impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        ModelError::Io { path: path.into(), error }
    }
}
