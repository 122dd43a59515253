//! Rewriting a model's weights in another format: f32, f16, or quantized (q8/q4, see [`crate::quant`]).

use std::collections::BTreeMap;

use crate::arch;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::quant::{QuantScheme, QuantTensor};
use crate::weights::{TensorData, Weights, write_safetensors};

/// How the weights of a converted model are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    F32,
    F16,
    /// The matrices quantized with `scheme` in groups of `group_size` columns; norms, biases and low-rank
    /// adapter factors not (a 4-bit copy of an adapter loses the small update it is): f32, or f16 for a factor
    /// whose values all are f16 values.
    Quant {
        scheme: QuantScheme,
        group_size: usize,
    },
}

impl std::fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeightFormat::F32 => f.write_str("f32"),
            WeightFormat::F16 => f.write_str("f16"),
            WeightFormat::Quant { scheme, group_size } => write!(f, "{} (groups of {group_size})", scheme.name()),
        }
    }
}

/// One safetensors file holding every tensor the engine reads (per [`arch::tensor_names`]) in
/// `format`. Quantized, the matrices (embedding, attention and MLP projections, an untied head) are stored per
/// [`crate::quant`], the norms and biases stay f32 and the adapter factors exact (f16 where they were f16). Tensors the engine does not read are left out.
pub fn convert_weights(config: &ModelConfig, weights: &Weights, format: WeightFormat) -> Result<Vec<u8>> {
    arch::check(config, weights)?;
    let tensors = arch::tensor_names(config)
        .into_iter()
        .map(|(name, shape)| {
            let values = weights.f32(&name, &shape)?;
            let fail = |message: String| ModelError::Tensor {
                file: weights.file_of(&name).to_owned(),
                name: name.clone(),
                message,
            };
            let data = match (format, shape.as_slice()) {
                (WeightFormat::Quant { scheme, group_size }, &[rows, cols]) if !arch::is_low_rank_factor(&name) => {
                    TensorData::Quant(QuantTensor::quantize(&values, rows, cols, scheme, group_size).map_err(|e| {
                        match e {
                            ModelError::Quantize { message } => {
                                fail(format!("cannot quantize to {}: {message}", scheme.name()))
                            }
                            other => other,
                        }
                    })?)
                }
                (WeightFormat::F16, _) => {
                    let bits = values
                        .iter()
                        .map(|&x| {
                            let h = half::f16::from_f32(x);
                            if h.is_finite() { Ok(h.to_bits()) } else { Err(fail(format!("{x} does not fit in f16"))) }
                        })
                        .collect::<Result<Vec<u16>>>()?;
                    TensorData::F16 { shape, bits }
                }
                // An adapter trained and shipped in f16 keeps its exact values at half the bytes of f32.
                (WeightFormat::Quant { .. }, _) if arch::is_low_rank_factor(&name) => match exact_f16(&values) {
                    Some(bits) => TensorData::F16 { shape, bits },
                    None => TensorData::F32 { shape, values },
                },
                _ => TensorData::F32 { shape, values },
            };
            Ok((name, data))
        })
        .collect::<Result<Vec<_>>>()?;
    write_safetensors(&tensors, &BTreeMap::new())
}

/// `values` as f16 bits if every one of them is an f16 value, else `None`.
fn exact_f16(values: &[f32]) -> Option<Vec<u16>> {
    values
        .iter()
        .map(|&x| {
            let h = half::f16::from_f32(x);
            (h.to_f32() == x).then_some(h.to_bits())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_config() -> ModelConfig {
        tiny_config_with(serde_json::json!({}))
    }

    /// The tiny config with mask-gated adapters of rank 8.
    fn tiny_gated_config() -> ModelConfig {
        tiny_config_with(serde_json::json!({ "attention": "masks_see_block", "block_size": 4, "adapter_rank": 8 }))
    }

    /// A one-layer Qwen2 of width 16, with `extra`'s keys added to its config.json.
    fn tiny_config_with(extra: serde_json::Value) -> ModelConfig {
        let mut json = serde_json::json!({
            "model_type": "qwen2", "vocab_size": 8, "hidden_size": 16, "intermediate_size": 32,
            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8,
            "max_position_embeddings": 16, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
            "tie_word_embeddings": true, "mask_token_id": 1
        });
        json.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        ModelConfig::from_json(&json.to_string(), "config.json").unwrap()
    }

    /// Every tensor of the tiny config, with values i/100 − 1 (a bias included, so there are 1-D tensors besides
    /// the norms).
    fn tiny_weights(config: &ModelConfig) -> Weights {
        tiny_weights_through(config, |x| x)
    }

    /// [`tiny_weights`] with every value passed through `round`.
    fn tiny_weights_through(config: &ModelConfig, round: fn(f32) -> f32) -> Weights {
        let tensors: Vec<(String, TensorData)> = arch::tensor_names(config)
            .into_iter()
            .map(|(name, shape)| {
                let values =
                    (0..shape.iter().product::<usize>()).map(|i| round((i % 200) as f32 / 100.0 - 1.0)).collect();
                (name, TensorData::F32 { shape, values })
            })
            .collect();
        let bytes = write_safetensors(&tensors, &BTreeMap::new()).unwrap();
        Weights::from_bytes(vec![("model.safetensors".into(), bytes)]).unwrap()
    }

    #[test]
    fn quantizes_matrices_and_keeps_vectors_and_adapters_f32() {
        for config in [tiny_config(), tiny_gated_config()] {
            check_quantized(&config);
        }
    }

    fn check_quantized(config: &ModelConfig) {
        let source = tiny_weights(config);
        let format = WeightFormat::Quant { scheme: QuantScheme::Q4, group_size: 8 };
        let bytes = convert_weights(config, &source, format).unwrap();
        let converted = Weights::from_bytes(vec![("q4.safetensors".into(), bytes)]).unwrap();
        arch::check(config, &converted).unwrap();
        assert_eq!(source.names(), converted.names());
        for (name, shape) in arch::tensor_names(config) {
            let info = converted.info(&name).unwrap();
            let original = source.f32(&name, &shape).unwrap();
            if shape.len() == 2 && !name.contains(".lora_") {
                assert_eq!(info.quantized, Some(QuantScheme::Q4), "{name}");
                let expected = QuantTensor::quantize(&original, shape[0], shape[1], QuantScheme::Q4, 8).unwrap();
                assert_eq!(converted.quant(&name).unwrap(), Some(expected), "{name}");
            } else {
                assert_eq!(info.dtype, safetensors::Dtype::F32, "{name}");
                assert_eq!(converted.f32(&name, &shape).unwrap(), original, "{name}");
            }
        }
    }

    /// An adapter trained and shipped in f16 stays f16, value for value, in a quantized copy; the rest is as above.
    #[test]
    fn adapter_factors_of_f16_values_stay_f16() {
        let config = tiny_gated_config();
        let source = tiny_weights_through(&config, |x| half::f16::from_f32(x).to_f32());
        let format = WeightFormat::Quant { scheme: QuantScheme::Q4, group_size: 8 };
        let converted =
            Weights::from_bytes(vec![("q4.safetensors".into(), convert_weights(&config, &source, format).unwrap())])
                .unwrap();
        let mut factors = 0;
        for (name, shape) in arch::tensor_names(&config) {
            let expected = if arch::is_low_rank_factor(&name) {
                factors += 1;
                safetensors::Dtype::F16
            } else if shape.len() == 2 {
                safetensors::Dtype::U32
            } else {
                safetensors::Dtype::F32
            };
            assert_eq!(converted.info(&name).unwrap().dtype, expected, "{name}");
            if shape.len() == 1 || arch::is_low_rank_factor(&name) {
                assert_eq!(converted.f32(&name, &shape).unwrap(), source.f32(&name, &shape).unwrap(), "{name}");
            }
        }
        assert_eq!(factors, 14, "one layer: two factors for each of seven projections");
    }

    #[test]
    fn f16_and_f32_store_every_tensor_as_floats() {
        let config = tiny_config();
        let source = tiny_weights(&config);
        for (format, dtype) in
            [(WeightFormat::F16, safetensors::Dtype::F16), (WeightFormat::F32, safetensors::Dtype::F32)]
        {
            let bytes = convert_weights(&config, &source, format).unwrap();
            let converted = Weights::from_bytes(vec![("x.safetensors".into(), bytes)]).unwrap();
            assert!(converted.file_metadata().is_empty(), "{format}");
            for name in converted.names() {
                assert_eq!(converted.info(name).unwrap().dtype, dtype, "{format} {name}");
            }
            // Values k/100 − 1: exact in f32; in f16 within half an ulp (2⁻¹¹ relative).
            let embed = converted.f32(arch::tensors::EMBED, &[8, 16]).unwrap();
            let original = source.f32(arch::tensors::EMBED, &[8, 16]).unwrap();
            for (a, b) in embed.iter().zip(&original) {
                assert!((a - b).abs() <= b.abs() * 2f32.powi(-11), "{format}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn errors_name_the_tensor() {
        let config = tiny_config();
        let source = tiny_weights(&config);
        let format = WeightFormat::Quant { scheme: QuantScheme::Q8, group_size: 12 };
        let err = convert_weights(&config, &source, format).unwrap_err().to_string();
        assert_eq!(
            err,
            "model.safetensors: tensor `model.embed_tokens.weight`: cannot quantize to q8: 16 columns are not a \
             multiple of the group size 12"
        );
    }
}
