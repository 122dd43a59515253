//! What a model recommends in its `generation_config.json`: decoding settings (fields it leaves out keep the
//! defaults) and the prompt format. The CLI and the page read it here, so both start a model the same way.

use unmask_model::prompt::PromptFormat;

use crate::{SamplerConfig, SamplerError};

#[derive(Clone, Debug, PartialEq)]
pub struct Recommended {
    pub decoding: SamplerConfig,
    /// `None`: the caller's default (chat_opened for a model with a chat template, else bare).
    pub prompt_format: Option<PromptFormat>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecommendedError {
    #[error("not a set of decoding settings: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Invalid(#[from] SamplerError),
}

impl Recommended {
    /// For a model that recommends nothing.
    pub const NONE: Recommended = Recommended { decoding: SamplerConfig::DEFAULT, prompt_format: None };

    /// Reads `generation_config.json`'s text; the settings must pass [`SamplerConfig::validate`].
    pub fn parse(text: &str) -> Result<Self, RecommendedError> {
        #[derive(serde::Deserialize)]
        struct Format {
            prompt_format: Option<PromptFormat>,
        }
        let format: Format = serde_json::from_str(text)?;
        let decoding: SamplerConfig = serde_json::from_str(text)?;
        decoding.validate()?;
        Ok(Recommended { decoding, prompt_format: format.prompt_format })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    #[test]
    fn reads_settings_and_format_and_refuses_bad_values() {
        let r = Recommended::parse(r#"{"algorithm": "left_to_right", "prompt_format": "chat_opened"}"#).unwrap();
        assert_eq!(r.decoding.algorithm, Algorithm::LeftToRight);
        assert_eq!(r.prompt_format, Some(PromptFormat::ChatOpened));
        assert_eq!(r.decoding.temperature, SamplerConfig::DEFAULT.temperature);
        assert_eq!(Recommended::parse("{}").unwrap(), Recommended::NONE);
        assert!(matches!(Recommended::parse(r#"{"prompt_format": "poem"}"#), Err(RecommendedError::Json(_))));
        assert!(matches!(Recommended::parse(r#"{"temperature": 1e9}"#), Err(RecommendedError::Invalid(_))));
    }
}
