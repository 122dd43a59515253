//! GGML tensor types and how each becomes one of ours. Where GGML's values are exactly (or to an f16 rounding
//! of a scale) a form our engines run, the tensor is repacked into it and runs as stored; otherwise it is
//! widened to f32 exactly. `ARCHITECTURE.md` gives the error table behind each choice.
//!
//! | GGML  | ours | how |
//! |-------|------|-----|
//! | Q8_0, Q4_0 | q8, q4, group 32 | word for word |
//! | Q4_1  | q4a, group 32 | word for word |
//! | Q5_0  | q8, group 32 | exact: the level − 16 (−16..=15) is an 8-bit level over the same f16 scale |
//! | Q6_K  | q8, group 16 | the level − 32 over each sub-block's `d · scale`, rounded to f16 (≤ 2⁻¹¹ relative) |
//! | Q4_K  | q4a, group 32 | each sub-block's `d · scale` and `−dmin · min` rounded to f16 |
//! | Q5_1, Q5_K, Q8_K, BF16 | f32 | exact (no form of ours holds 5-bit levels above a minimum, or f32 scales) |
//!
//! Decoding follows GGML's reference (`kquant.rs` for the 5-bit and K types), so every value is the same f32
//! the `gguf` package computes.

use half::f16;

use super::GgufError;
use super::kquant::{self, QK_K};
use crate::quant::{QuantScheme, QuantTensor};
use crate::weights::TensorData;

/// Values per Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 block.
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
    Q5_0,
    Q5_1,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
}

impl GgmlType {
    /// Every supported type, for messages.
    pub const SUPPORTED: &'static str = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_K";

    /// The type of GGML's id, or the id back when unsupported.
    pub fn from_id(id: u32) -> Result<Self, u32> {
        Ok(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            6 => GgmlType::Q5_0,
            7 => GgmlType::Q5_1,
            8 => GgmlType::Q8_0,
            12 => GgmlType::Q4_K,
            13 => GgmlType::Q5_K,
            14 => GgmlType::Q6_K,
            15 => GgmlType::Q8_K,
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
            GgmlType::Q5_0 => (32, 22),
            GgmlType::Q5_1 => (32, 24),
            GgmlType::Q4_K => (256, 144),
            GgmlType::Q5_K => (256, 176),
            GgmlType::Q6_K => (256, 210),
            GgmlType::Q8_K => (256, 292),
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

    /// The form a matrix of this type takes in our engines: a quantization scheme and group size, or `None`
    /// for f32.
    pub fn stored_as(self) -> Option<(QuantScheme, usize)> {
        match self {
            GgmlType::Q8_0 | GgmlType::Q5_0 => Some((QuantScheme::Q8, BLOCK)),
            GgmlType::Q4_0 => Some((QuantScheme::Q4, BLOCK)),
            GgmlType::Q4_1 | GgmlType::Q4_K => Some((QuantScheme::Q4A, BLOCK)),
            GgmlType::Q6_K => Some((QuantScheme::Q8, 16)),
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 | GgmlType::Q5_1 | GgmlType::Q5_K | GgmlType::Q8_K => None,
        }
    }

    /// Whether our engines run this type as stored (rather than widened to f32).
    pub fn runs_as_stored(self) -> bool {
        self == GgmlType::F32 || self == GgmlType::F16 || self.stored_as().is_some()
    }
}

fn f16_at(bytes: &[u8], at: usize) -> f16 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

/// Every value of a tensor as f32, as GGML's reference dequantization computes it. `bytes` is whole blocks
/// (the reader checks).
pub fn dequantize(kind: GgmlType, bytes: &[u8]) -> Vec<f32> {
    let (values, block_bytes) = kind.block();
    let mut out = vec![0.0f32; bytes.len() / block_bytes as usize * values as usize];
    let blocks = bytes.chunks_exact(block_bytes as usize).zip(out.chunks_exact_mut(values as usize));
    match kind {
        GgmlType::F32 => blocks.for_each(|(b, y)| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        GgmlType::F16 => blocks.for_each(|(b, y)| y[0] = f16_at(b, 0).to_f32()),
        GgmlType::BF16 => {
            blocks.for_each(|(b, y)| y[0] = f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
        }
        GgmlType::Q8_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0).to_f32();
            y.iter_mut().zip(&b[2..]).for_each(|(y, &q)| *y = f32::from(q as i8) * d);
        }),
        GgmlType::Q4_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0).to_f32();
            y.iter_mut().zip(q4_levels(&b[2..])).for_each(|(y, n)| *y = (f32::from(n) - 8.0) * d);
        }),
        GgmlType::Q4_1 => blocks.for_each(|(b, y)| {
            let (d, m) = (f16_at(b, 0).to_f32(), f16_at(b, 2).to_f32());
            y.iter_mut().zip(q4_levels(&b[4..])).for_each(|(y, n)| *y = f32::from(n) * d + m);
        }),
        GgmlType::Q5_0 => blocks.for_each(|(b, y)| {
            let (d, levels) = kquant::q5_0(b);
            let d = f16::from_bits(d).to_f32();
            y.iter_mut().zip(levels).for_each(|(y, l)| *y = f32::from(l) * d);
        }),
        GgmlType::Q5_1 => blocks.for_each(|(b, y)| kquant::q5_1(b, y)),
        GgmlType::Q4_K => blocks.for_each(|(b, y)| kquant::q4_k(b).values(y)),
        GgmlType::Q5_K => blocks.for_each(|(b, y)| kquant::q5_k(b).values(y)),
        GgmlType::Q6_K => blocks.for_each(|(b, y)| {
            let (scales, levels) = kquant::q6_k(b);
            y.iter_mut().zip(levels).enumerate().for_each(|(i, (y, l))| *y = scales[i / 16] * f32::from(l));
        }),
        GgmlType::Q8_K => blocks.for_each(|(b, y)| kquant::q8_k(b, y)),
    }
    out
}

/// The 32 nibbles of a 4-bit block in column order: byte `j` holds column `j` low and column `j + 16` high.
fn q4_levels(qs: &[u8]) -> impl Iterator<Item = u8> + '_ {
    qs.iter().map(|q| q & 0xf).chain(qs.iter().map(|q| q >> 4))
}

/// Packs levels (already offset to their codes: q8 bytes, q4/q4a nibbles) into words as `quant.rs` lays
/// them out.
fn push_codes(q: &mut QuantTensor, codes: impl IntoIterator<Item = u32>) {
    let bits = 32 / q.scheme.values_per_word() as u32;
    let mut word = 0u32;
    for (n, code) in codes.into_iter().enumerate() {
        let slot = n as u32 % (32 / bits);
        word |= code << (bits * slot);
        if slot == 32 / bits - 1 {
            q.words.push(word);
            word = 0;
        }
    }
}

/// An f16 of a scale GGML computed in f32, or an error naming the tensor when it does not fit f16.
fn f16_of(value: f32, name: &str) -> Result<u16, GgufError> {
    let bits = f16::from_f32(value);
    if bits.is_infinite() {
        return Err(GgufError::Unsupported(format!("tensor `{name}`: a block scale {value} beyond the f16 range")));
    }
    Ok(bits.to_bits())
}

/// A matrix in the quantized form of `kind.stored_as()`.
fn repack(kind: GgmlType, bytes: &[u8], rows: usize, cols: usize, name: &str) -> Result<QuantTensor, GgufError> {
    let (scheme, group) = kind.stored_as().expect("repack is called for stored types only");
    let mut q = QuantTensor::empty(scheme, group, rows, cols);
    let byte = |level: i8| u32::from(level as u8);
    match kind {
        GgmlType::Q8_0 => {
            for block in bytes.chunks_exact(34) {
                q.scales.push(u16::from_le_bytes([block[0], block[1]]));
                q.words.extend(block[2..].chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])));
            }
        }
        GgmlType::Q4_0 | GgmlType::Q4_1 => {
            // Q4_0 blocks: scale, 16 bytes of nibbles; Q4_1 blocks: scale, minimum, 16 bytes.
            let header = if kind == GgmlType::Q4_0 { 2 } else { 4 };
            for block in bytes.chunks_exact(header + 16) {
                q.scales.push(u16::from_le_bytes([block[0], block[1]]));
                if scheme.has_mins() {
                    q.mins.push(u16::from_le_bytes([block[2], block[3]]));
                }
                push_codes(&mut q, q4_levels(&block[header..]).map(u32::from));
            }
        }
        GgmlType::Q5_0 => {
            for block in bytes.chunks_exact(22) {
                let (d, levels) = kquant::q5_0(block);
                q.scales.push(d);
                push_codes(&mut q, levels.map(byte));
            }
        }
        GgmlType::Q6_K => {
            for block in bytes.chunks_exact(210) {
                let (scales, levels) = kquant::q6_k(block);
                for s in scales {
                    q.scales.push(f16_of(s, name)?);
                }
                push_codes(&mut q, levels.map(byte));
            }
        }
        GgmlType::Q4_K => {
            for block in bytes.chunks_exact(144) {
                let sub = kquant::q4_k(block);
                for (scale, min) in sub.scales.iter().zip(&sub.mins) {
                    q.scales.push(f16_of(*scale, name)?);
                    q.mins.push(f16_of(-min, name)?);
                }
                push_codes(&mut q, sub.levels.map(u32::from));
            }
        }
        _ => unreachable!("{kind:?} has no stored form"),
    }
    debug_assert!(q.is_complete() && QK_K.is_multiple_of(group));
    Ok(q)
}

/// A tensor of `shape` (row-major) in the form our weights hold it: a matrix of a type with a stored form
/// (`GgmlType::stored_as`) repacked into it, F16 as stored, everything else widened to f32.
pub fn to_tensor_data(kind: GgmlType, bytes: &[u8], shape: Vec<usize>, name: &str) -> Result<TensorData, GgufError> {
    Ok(match (kind, shape.as_slice()) {
        (GgmlType::F16, _) => {
            TensorData::F16 { shape, bits: bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect() }
        }
        (_, &[rows, cols]) if kind.stored_as().is_some() => TensorData::Quant(repack(kind, bytes, rows, cols, name)?),
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

    /// Q8_K by hand (the `gguf` package has no decoder for it): f32 d = 0.5, bytes −128..127, block sums ignored.
    #[test]
    fn q8_k_by_hand() {
        let mut block = 0.5f32.to_le_bytes().to_vec();
        block.extend((0..256).map(|i| (i - 128) as i8 as u8));
        block.extend([0xAB; 32]);
        let values = dequantize(GgmlType::Q8_K, &block);
        assert_eq!(values, (0..256).map(|i| (i - 128) as f32 * 0.5).collect::<Vec<_>>());
        let TensorData::F32 { values: widened, .. } =
            to_tensor_data(GgmlType::Q8_K, &block, vec![1, 256], "t").unwrap()
        else {
            panic!("Q8_K is widened")
        };
        assert_eq!(widened, values);
    }
}
