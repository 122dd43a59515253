//! Writing safetensors files: float tensors as they are, quantized ones in the format of [`crate::quant`].

use std::collections::{BTreeMap, HashSet};

use safetensors::tensor::Dtype;

use crate::error::{ModelError, Result};
use crate::quant::{self, GROUP_SIZE_KEY, MINS_SUFFIX, QUANT_KEY, QuantScheme, QuantTensor, SCALES_SUFFIX};

/// A tensor to write with [`write_safetensors`].
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32 {
        shape: Vec<usize>,
        values: Vec<f32>,
    },
    /// f16 bit patterns.
    F16 {
        shape: Vec<usize>,
        bits: Vec<u16>,
    },
    /// Stored as packed words plus a `.scales` companion, per [`crate::quant`].
    Quant(QuantTensor),
}

/// One safetensors file holding `tensors`. Quantized tensors are stored as the format defines, and the file's
/// metadata names their scheme and group size, which they must therefore share; `metadata` adds entries.
pub fn write_safetensors(tensors: &[(String, TensorData)], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let invalid = |message: String| ModelError::Safetensors { file: "(writing)".into(), message };
    let mut header = metadata.clone();
    let mut format: Option<(QuantScheme, usize)> = None;
    let mut stored: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, data) in tensors {
        let tensor_error =
            |message: String| ModelError::Tensor { file: "(writing)".into(), name: name.clone(), message };
        match data {
            TensorData::F32 { shape, values } => {
                if shape.iter().product::<usize>() != values.len() {
                    return Err(tensor_error(format!("{} values for shape {shape:?}", values.len())));
                }
                stored.push((
                    name.clone(),
                    Dtype::F32,
                    shape.clone(),
                    values.iter().flat_map(|x| x.to_le_bytes()).collect(),
                ));
            }
            TensorData::F16 { shape, bits } => {
                if shape.iter().product::<usize>() != bits.len() {
                    return Err(tensor_error(format!("{} values for shape {shape:?}", bits.len())));
                }
                stored.push((
                    name.clone(),
                    Dtype::F16,
                    shape.clone(),
                    bits.iter().flat_map(|x| x.to_le_bytes()).collect(),
                ));
            }
            TensorData::Quant(q) => {
                let this = (q.scheme, q.group_size);
                if let Some(other) = format.filter(|&f| f != this) {
                    return Err(tensor_error(format!(
                        "{} with group size {} in a file of {} with group size {}",
                        this.0.name(),
                        this.1,
                        other.0.name(),
                        other.1
                    )));
                }
                format = Some(this);
                let per_word = q.scheme.values_per_word();
                quant::check_layout(q.scheme, q.group_size, q.cols).map_err(tensor_error)?;
                if !q.is_complete() {
                    return Err(tensor_error(format!(
                        "{} words, {} scales and {} minimums for {} × {}",
                        q.words.len(),
                        q.scales.len(),
                        q.mins.len(),
                        q.rows,
                        q.cols
                    )));
                }
                let halves = |values: &[u16]| values.iter().flat_map(|x| x.to_le_bytes()).collect();
                let words = q.words.iter().flat_map(|x| x.to_le_bytes()).collect();
                stored.push((name.clone(), Dtype::U32, vec![q.rows, q.cols / per_word], words));
                let groups_shape = vec![q.rows, q.cols / q.group_size];
                stored.push((format!("{name}{SCALES_SUFFIX}"), Dtype::F16, groups_shape.clone(), halves(&q.scales)));
                if q.scheme.has_mins() {
                    stored.push((format!("{name}{MINS_SUFFIX}"), Dtype::F16, groups_shape, halves(&q.mins)));
                }
            }
        }
    }
    if let Some((scheme, group_size)) = format {
        header.insert(QUANT_KEY.into(), scheme.name().into());
        header.insert(GROUP_SIZE_KEY.into(), group_size.to_string());
    }
    let mut seen = HashSet::new();
    if let Some((name, ..)) = stored.iter().find(|(name, ..)| !seen.insert(name.as_str())) {
        return Err(invalid(format!("tensor `{name}` written twice")));
    }
    Ok(serialize(stored, &header))
}

/// The file's bytes: the length of the header, the header (JSON with its keys sorted, so the same tensors always
/// make the same file: the page's cache and the site's manifest go by the file's hash) padded with spaces to a
/// multiple of eight, then the data, widest element type first so each tensor starts aligned to its own width.
fn serialize(mut stored: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, metadata: &BTreeMap<String, String>) -> Vec<u8> {
    stored.sort_by(|a, b| b.1.bitsize().cmp(&a.1.bitsize()).then_with(|| a.0.cmp(&b.0)));
    let mut header = BTreeMap::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".to_owned(), serde_json::json!(metadata));
    }
    let mut offset = 0;
    for (name, dtype, shape, bytes) in &stored {
        let entry = serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes.len()]});
        header.insert(name.clone(), entry);
        offset += bytes.len();
    }
    let mut json = serde_json::to_vec(&header).expect("a map of strings and numbers serializes");
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut file = Vec::with_capacity(8 + json.len() + offset);
    file.extend_from_slice(&(json.len() as u64).to_le_bytes());
    file.extend_from_slice(&json);
    for (.., bytes) in &stored {
        file.extend_from_slice(bytes);
    }
    file
}
