//! GGUF (llama.cpp) tensor names → our Hugging Face names, and the Q/K row order llama.cpp stores for
//! interleaved RoPE, undone.

use crate::arch::Architecture;
use crate::quant::QuantTensor;
use crate::weights::TensorData;

/// The Hugging Face name of a llama.cpp tensor, or `None` for a tensor the decoder does not read (such as
/// `rope_freqs.weight`).
pub fn hf_name(gguf: &str) -> Option<String> {
    let fixed = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(name) = fixed {
        return Some(name.to_owned());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let suffix = match part {
        "attn_norm.weight" => "input_layernorm.weight",
        "attn_q.weight" => "self_attn.q_proj.weight",
        "attn_k.weight" => "self_attn.k_proj.weight",
        "attn_v.weight" => "self_attn.v_proj.weight",
        "attn_q.bias" => "self_attn.q_proj.bias",
        "attn_k.bias" => "self_attn.k_proj.bias",
        "attn_v.bias" => "self_attn.v_proj.bias",
        "attn_output.weight" => "self_attn.o_proj.weight",
        "ffn_norm.weight" => "post_attention_layernorm.weight",
        "ffn_gate.weight" => "mlp.gate_proj.weight",
        "ffn_up.weight" => "mlp.up_proj.weight",
        "ffn_down.weight" => "mlp.down_proj.weight",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{suffix}"))
}

/// How many heads a tensor's rows were permuted over, for the Q and K projections of architectures whose
/// GGUF conversion interleaves RoPE pairs (Llama); `None` for every other tensor.
pub fn permuted_heads(arch: Architecture, gguf: &str, heads: usize, kv_heads: usize) -> Option<usize> {
    if arch != Architecture::Llama {
        return None; // Qwen2 GGUFs keep the rotate-half order (llama.cpp's NEOX RoPE).
    }
    match gguf.rsplit_once('.').map(|(stem, _)| stem.rsplit('.').next().unwrap_or(stem)) {
        Some("attn_q") => Some(heads),
        Some("attn_k") => Some(kv_heads),
        _ => None,
    }
}

/// Undoes llama.cpp's row order for interleaved RoPE. Within each head of `2·half` rows, llama.cpp stores
/// Hugging Face row `t·half + i` (t ∈ {0, 1}: first or second half) at row `2i + t`; rows move whole, so a
/// quantized tensor's words, scales and minimums move with them. A bias is a column of rows and moves the same way.
pub fn unpermute_rows(data: TensorData, heads: usize) -> TensorData {
    let rows = match &data {
        TensorData::F32 { shape, .. } | TensorData::F16 { shape, .. } => shape[0],
        TensorData::Quant(q) => q.rows,
    };
    let half = rows / heads / 2;
    // Hugging Face row r comes from stored row `source(r)`.
    let source = |r: usize| {
        let (head, within) = (r / (2 * half), r % (2 * half));
        let (t, i) = (within / half, within % half);
        head * 2 * half + 2 * i + t
    };
    fn reorder<T: Copy>(values: &[T], rows: usize, source: impl Fn(usize) -> usize) -> Vec<T> {
        let width = values.len() / rows;
        (0..rows).flat_map(|r| &values[source(r) * width..][..width]).copied().collect()
    }
    match data {
        TensorData::F32 { shape, values } => TensorData::F32 { values: reorder(&values, rows, source), shape },
        TensorData::F16 { shape, bits } => TensorData::F16 { bits: reorder(&bits, rows, source), shape },
        TensorData::Quant(q) => {
            let mut reordered = QuantTensor::empty(q.scheme, q.group_size, q.rows, q.cols);
            (0..rows).for_each(|r| reordered.push_row(&q, source(r)));
            TensorData::Quant(reordered)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_hugging_face() {
        assert_eq!(hf_name("blk.12.ffn_down.weight").unwrap(), "model.layers.12.mlp.down_proj.weight");
        assert_eq!(hf_name("token_embd.weight").unwrap(), "model.embed_tokens.weight");
        assert_eq!(hf_name("rope_freqs.weight"), None);
        assert_eq!(hf_name("blk.x.attn_q.weight"), None);
        assert_eq!(permuted_heads(Architecture::Llama, "blk.3.attn_k.weight", 9, 3), Some(3));
        assert_eq!(permuted_heads(Architecture::Llama, "blk.3.attn_v.weight", 9, 3), None);
        assert_eq!(permuted_heads(Architecture::Qwen2, "blk.3.attn_q.weight", 9, 3), None);
    }

    #[test]
    fn unpermute_inverts_llama_cpp_order() {
        // One head of 8 rows (half = 4): llama.cpp stores HF rows in the order 0 4 1 5 2 6 3 7.
        let stored: Vec<f32> = [0, 4, 1, 5, 2, 6, 3, 7].iter().map(|&r| r as f32).collect();
        let TensorData::F32 { values, .. } = unpermute_rows(TensorData::F32 { shape: vec![8, 1], values: stored }, 1)
        else {
            unreachable!()
        };
        assert_eq!(values, (0..8).map(|r| r as f32).collect::<Vec<_>>());
    }
}
