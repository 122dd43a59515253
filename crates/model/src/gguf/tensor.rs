//! GGML tensor types and how each becomes one of ours. Q8_0 and Q4_0 are our q8 and q4 with groups of 32
//! (an f16 scale per group, symmetric levels), so they are repacked word for word and run as stored; Q4_1
//! adds a per-group minimum that our format has no place for, so it is dequantized to f32 (exact: each value is
//! the same single f32 multiply-add the GGML reference computes). BF16 widens to f32 exactly.

use half::f16;

use super::GgufError;
use crate::quant::{QuantScheme, QuantTensor};
use crate::weights::TensorData;

/// Values per Q8_0 / Q4_0 / Q4_1 block.
const BLOCK: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
}

impl GgmlType {
    /// The type of GGML's id, or the id back when unsupported.
    pub fn from_id(id: u32) -> Result<Self, u32> {
        Ok(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            8 => GgmlType::Q8_0,
            30 => GgmlType::BF16,
            other => return Err(other),
        })
    }

    /// (values, bytes) of one block.
    fn block(self) -> (u64, u64) {
        match self {
            GgmlType::F32 => (1, 4),
            GgmlType::F16 | GgmlType::BF16 => (1, 2),
            GgmlType::Q8_0 => (32, 34),
            GgmlType::Q4_0 => (32, 18),
            GgmlType::Q4_1 => (32, 20),
        }
    }

    /// Bytes of `elements` values in rows of `row_len`; `None` when a row is not whole blocks or on overflow.
    pub fn bytes_for(self, elements: u64, row_len: u64) -> Option<u64> {
        let (values, bytes) = self.block();
        if row_len == 0 || !row_len.is_multiple_of(values) {
            return None;
        }
        (elements / values).checked_mul(bytes)
    }

    /// Whether our engines run this type as stored (rather than widened to f32).
    pub fn runs_as_stored(self) -> bool {
        self != GgmlType::BF16
    }
}

fn f16_at(bytes: &[u8], at: usize) -> f16 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

/// Every value of a tensor as f32, as GGML's reference dequantization computes it.
pub fn dequantize(kind: GgmlType, bytes: &[u8]) -> Vec<f32> {
    match kind {
        GgmlType::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        GgmlType::F16 => (0..bytes.len() / 2).map(|i| f16_at(bytes, 2 * i).to_f32()).collect(),
        GgmlType::BF16 => {
            bytes.chunks_exact(2).map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)).collect()
        }
        GgmlType::Q8_0 => bytes
            .chunks_exact(34)
            .flat_map(|b| {
                let d = f16_at(b, 0).to_f32();
                b[2..].iter().map(move |&q| f32::from(q as i8) * d)
            })
            .collect(),
        GgmlType::Q4_0 => bytes
            .chunks_exact(18)
            .flat_map(|b| {
                let d = f16_at(b, 0).to_f32();
                q4_levels(&b[2..]).map(move |n| (f32::from(n) - 8.0) * d)
            })
            .collect(),
        GgmlType::Q4_1 => bytes
            .chunks_exact(20)
            .flat_map(|b| {
                let (d, m) = (f16_at(b, 0).to_f32(), f16_at(b, 2).to_f32());
                q4_levels(&b[4..]).map(move |n| f32::from(n) * d + m)
            })
            .collect(),
    }
}

/// The 32 nibbles of a 4-bit block in column order: byte `j` holds column `j` low and column `j + 16` high.
fn q4_levels(qs: &[u8]) -> impl Iterator<Item = u8> + '_ {
    qs.iter().map(|q| q & 0xf).chain(qs.iter().map(|q| q >> 4))
}

/// A tensor of `shape` (row-major) in the form our weights hold it: as stored where our format is GGML's
/// (Q8_0, Q4_0, Q4_1 as q8, q4, q4a; F16; F32), widened to f32 otherwise.
pub fn to_tensor_data(kind: GgmlType, bytes: &[u8], shape: Vec<usize>, name: &str) -> Result<TensorData, GgufError> {
    let matrix = match shape.as_slice() {
        &[rows, cols] => Some((rows, cols)),
        _ => None,
    };
    Ok(match (kind, matrix) {
        (GgmlType::F16, _) => {
            TensorData::F16 { shape, bits: bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect() }
        }
        (GgmlType::Q8_0, Some((rows, cols))) => {
            let mut q = QuantTensor::empty(QuantScheme::Q8, BLOCK, rows, cols);
            for block in bytes.chunks_exact(34) {
                q.scales.push(u16::from_le_bytes([block[0], block[1]]));
                q.words.extend(block[2..].chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])));
            }
            TensorData::Quant(q)
        }
        (GgmlType::Q4_0 | GgmlType::Q4_1, Some((rows, cols))) => {
            // Q4_0 blocks: scale, 16 bytes of nibbles; Q4_1 blocks: scale, minimum, 16 bytes.
            let (scheme, header) = if kind == GgmlType::Q4_0 { (QuantScheme::Q4, 2) } else { (QuantScheme::Q4A, 4) };
            let mut q = QuantTensor::empty(scheme, BLOCK, rows, cols);
            for block in bytes.chunks_exact(header + 16) {
                q.scales.push(u16::from_le_bytes([block[0], block[1]]));
                if scheme.has_mins() {
                    q.mins.push(u16::from_le_bytes([block[2], block[3]]));
                }
                let levels: Vec<u8> = q4_levels(&block[header..]).collect();
                q.words.extend(levels.chunks_exact(8).map(|eight| {
                    eight.iter().enumerate().fold(0u32, |word, (n, &level)| word | u32::from(level) << (4 * n))
                }));
            }
            TensorData::Quant(q)
        }
        (GgmlType::Q8_0 | GgmlType::Q4_0, None) => {
            return Err(GgufError::Unsupported(format!("tensor `{name}`: a quantized tensor of shape {shape:?}")));
        }
        _ => TensorData::F32 { shape, values: dequantize(kind, bytes) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Q4_0 block by hand: scale 0.5, nibbles 0..15 then 15..0.
    #[test]
    fn q4_0_repacks_to_our_q4_with_the_same_values() {
        let mut block = f16::from_f32(0.5).to_bits().to_le_bytes().to_vec();
        block.extend((0..16u8).map(|j| j | (15 - j) << 4));
        let expected: Vec<f32> =
            (0..16).map(|n| (n as f32 - 8.0) * 0.5).chain((0..16).map(|n| ((15 - n) as f32 - 8.0) * 0.5)).collect();
        assert_eq!(dequantize(GgmlType::Q4_0, &block), expected);
        let TensorData::Quant(q) = to_tensor_data(GgmlType::Q4_0, &block, vec![1, 32], "t").unwrap() else {
            panic!("Q4_0 stays quantized")
        };
        assert_eq!(q.dequantize(), expected);
    }

    #[test]
    fn q8_0_and_q4_1_by_hand() {
        let mut q8 = f16::from_f32(0.25).to_bits().to_le_bytes().to_vec();
        q8.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let expected: Vec<f32> = (0..32).map(|i| (i - 16) as f32 * 0.25).collect();
        assert_eq!(dequantize(GgmlType::Q8_0, &q8), expected);
        let TensorData::Quant(q) = to_tensor_data(GgmlType::Q8_0, &q8, vec![1, 32], "t").unwrap() else {
            panic!("Q8_0 stays quantized")
        };
        assert_eq!(q.dequantize(), expected);

        // Q4_1: value = nibble · d + m with d = 2, m = −1.
        let mut q41 = f16::from_f32(2.0).to_bits().to_le_bytes().to_vec();
        q41.extend(f16::from_f32(-1.0).to_bits().to_le_bytes());
        q41.extend([0x10u8; 16]);
        let values = dequantize(GgmlType::Q4_1, &q41);
        assert_eq!(&values[..16], &[-1.0; 16]);
        assert_eq!(&values[16..], &[1.0; 16]);
        let TensorData::Quant(q) = to_tensor_data(GgmlType::Q4_1, &q41, vec![1, 32], "t").unwrap() else {
            panic!("Q4_1 stays quantized")
        };
        assert_eq!((q.scheme, q.mins.as_slice()), (QuantScheme::Q4A, &[f16::from_f32(-1.0).to_bits()][..]));
        assert_eq!(q.dequantize(), values);
    }
}
