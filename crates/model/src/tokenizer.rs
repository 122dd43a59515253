//! `tokenizer.json` through the `tokenizers` crate (built without the C regex engine, so it runs in wasm).

use crate::error::{ModelError, Result};

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_bytes(json: &[u8]) -> Result<Self> {
        // `tokenizers` panics on some malformed JSON (a syntax error or bad UTF-8 inside "decoder" hits an
        // `expect`; found by tests/fuzz.rs), and a panic aborts in wasm: check the text and its syntax first.
        let text = std::str::from_utf8(json)
            .map_err(|e| ModelError::Tokenizer { message: format!("tokenizer.json is not UTF-8: {e}") })?;
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map_err(|e| ModelError::Tokenizer { message: format!("tokenizer.json is not valid JSON: {e}") })?;
        let inner =
            tokenizers::Tokenizer::from_bytes(json).map_err(|e| ModelError::Tokenizer { message: e.to_string() })?;
        Ok(Self { inner })
    }

    /// Token ids of `text`, without added BOS/EOS. Special tokens written literally (such as the mask token)
    /// become their ids, which is how a prompt marks holes to fill.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode(text, false).map_err(|e| ModelError::Tokenizer { message: e.to_string() })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens included.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(|e| ModelError::Tokenizer { message: e.to_string() })
    }

    /// The id of a token string such as `<|mask|>`.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The vocabulary string of one id (byte-level tokens look like `Ġreturn`), for displays.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The `tokenizer.json` text (what a converted model directory stores).
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(true).map_err(|e| ModelError::Tokenizer { message: e.to_string() })
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
