//! The GGUF container (versions 2 and 3): header, metadata, tensor infos and the aligned data section.
//!
//! Every count, length and offset in the file is checked against the bytes that remain before anything is
//! allocated from it, so a file that lies about its sizes is an error, never a huge allocation or a panic.

use std::collections::BTreeMap;

use super::GgufError;
use super::tensor::GgmlType;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// GGML tensors have at most four dimensions.
const MAX_DIMS: u32 = 4;

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
}

impl Value {
    /// The value as an unsigned integer, whatever its integer type (negative values are not).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        if let Value::String(s) = self { Some(s) } else { None }
    }

    pub fn as_bool(&self) -> Option<bool> {
        if let Value::Bool(b) = self { Some(*b) } else { None }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        if let Value::Array(a) = self { Some(a) } else { None }
    }

    /// A short description for `unmask inspect` (arrays by length).
    pub fn summary(&self) -> String {
        match self {
            Value::String(s) if s.chars().count() > 60 => format!("{:?}…", s.chars().take(60).collect::<String>()),
            Value::String(s) => format!("{s:?}"),
            Value::Array(a) => format!("[{} values]", a.len()),
            Value::Bool(b) => b.to_string(),
            Value::F32(v) => v.to_string(),
            Value::F64(v) => v.to_string(),
            other => other.as_u64().map_or_else(|| format!("{other:?}"), |v| v.to_string()),
        }
    }
}

/// Where a tensor is and what it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// GGML order: `dims[0]` is the fastest-varying (a matrix's columns).
    pub dims: Vec<u64>,
    pub kind: GgmlType,
    /// Byte range within the file.
    pub start: usize,
    pub end: usize,
}

impl TensorInfo {
    /// The shape in row-major order (`[rows, cols]` for a matrix).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    pub fn elements(&self) -> usize {
        self.dims.iter().product::<u64>() as usize
    }
}

/// A parsed GGUF file: its metadata and tensor table over the file's bytes.
pub struct GgufFile<'a> {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    bytes: &'a [u8],
}

impl<'a> GgufFile<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, GgufError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(GgufError::Format("not a GGUF file (no GGUF magic)".into()));
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::Unsupported(format!("GGUF version {version} (supported: 2 and 3)")));
        }
        let tensor_count = r.u64()?;
        let kv_count = r.u64()?;
        // A metadata entry takes at least 12 bytes (key length, value type), a tensor info at least 24.
        r.check_count(kv_count, 12, "metadata entries")?;
        r.check_count(tensor_count, 24, "tensors")?;
        let mut metadata = BTreeMap::new();
        for _ in 0..kv_count {
            let key = r.string()?;
            let kind = r.u32()?;
            let value = r.value(kind, 0)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(GgufError::Format(format!("metadata key `{key}` appears twice")));
            }
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => v
                .as_u64()
                .filter(|a| a.is_power_of_two())
                .ok_or_else(|| GgufError::Format(format!("general.alignment {v:?} is not a power of two")))?,
        };
        let mut infos = Vec::new();
        for _ in 0..tensor_count {
            let name = r.string()?;
            let n_dims = r.u32()?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(GgufError::Format(format!("tensor `{name}` has {n_dims} dimensions (1 to 4)")));
            }
            let dims = (0..n_dims).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
            let kind = GgmlType::from_id(r.u32()?).map_err(|id| {
                GgufError::Unsupported(format!(
                    "tensor `{name}` has GGML type {id} (supported: {})",
                    GgmlType::SUPPORTED
                ))
            })?;
            let offset = r.u64()?;
            infos.push((name, dims, kind, offset));
        }
        let data_start = r.at.div_ceil(alignment as usize).saturating_mul(alignment as usize);
        let mut tensors = Vec::with_capacity(infos.len());
        for (name, dims, kind, offset) in infos {
            let elements = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
            let bytes_needed = elements.and_then(|n| kind.bytes_for(n, dims[0]));
            let size = bytes_needed.ok_or_else(|| {
                GgufError::Format(format!(
                    "tensor `{name}`: dimensions {dims:?} are not a whole number of {kind:?} blocks, or too large"
                ))
            })?;
            if !offset.is_multiple_of(alignment) {
                return Err(GgufError::Format(format!(
                    "tensor `{name}`: offset {offset} is not aligned to {alignment}"
                )));
            }
            let start = (data_start as u64).checked_add(offset);
            let end = start.and_then(|s| s.checked_add(size));
            match (start, end) {
                (Some(start), Some(end)) if end <= bytes.len() as u64 => {
                    tensors.push(TensorInfo { name, dims, kind, start: start as usize, end: end as usize })
                }
                _ => {
                    return Err(GgufError::Format(format!(
                        "tensor `{name}`: {size} bytes at offset {offset} run past the end of the {}-byte file (truncated?)",
                        bytes.len()
                    )));
                }
            }
        }
        Ok(GgufFile { version, metadata, tensors, bytes })
    }

    /// The stored bytes of a tensor.
    pub fn data(&self, info: &TensorInfo) -> &'a [u8] {
        &self.bytes[info.start..info.end]
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// A cursor over the file that never reads past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Format(format!(
                "needs {n} bytes at offset {} of a {}-byte file (truncated, or a size that lies)",
                self.at,
                self.bytes.len()
            )));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    /// Refuses a count that cannot fit in what is left of the file, before anything is sized from it.
    fn check_count(&self, count: u64, min_bytes_each: u64, what: &str) -> Result<(), GgufError> {
        if count.saturating_mul(min_bytes_each) > self.remaining() as u64 {
            return Err(GgufError::Format(format!(
                "{count} {what} cannot fit in the {} bytes left of the file",
                self.remaining()
            )));
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let len = self.u64()?;
        self.check_count(len, 1, "string bytes")?;
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::Format("a string is not UTF-8".into()))
    }

    /// A value of GGUF type `kind`; arrays nest at most once more (an array of arrays of scalars).
    fn value(&mut self, kind: u32, depth: u32) -> Result<Value, GgufError> {
        Ok(match kind {
            0 => Value::U8(self.array::<1>()?[0]),
            1 => Value::I8(self.array::<1>()?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array()?)),
            3 => Value::I16(i16::from_le_bytes(self.array()?)),
            4 => Value::U32(self.u32()?),
            5 => Value::I32(i32::from_le_bytes(self.array()?)),
            6 => Value::F32(f32::from_le_bytes(self.array()?)),
            7 => match self.array::<1>()?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(GgufError::Format(format!("a bool holds {b}"))),
            },
            8 => Value::String(self.string()?),
            9 if depth < 2 => {
                let item = self.u32()?;
                let count = self.u64()?;
                // Every element takes at least one byte (eight for strings and arrays).
                let least = if matches!(item, 8..=9) { 8 } else { 1 };
                self.check_count(count, least, "array elements")?;
                let values = (0..count).map(|_| self.value(item, depth + 1)).collect::<Result<Vec<_>, _>>()?;
                Value::Array(values)
            }
            9 => return Err(GgufError::Format("arrays nested more than twice".into())),
            10 => Value::U64(self.u64()?),
            11 => Value::I64(i64::from_le_bytes(self.array()?)),
            12 => Value::F64(f64::from_le_bytes(self.array()?)),
            other => return Err(GgufError::Format(format!("unknown metadata value type {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GGUF v3 header with the given counts and nothing after it.
    fn header(tensors: u64, kvs: u64) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(tensors.to_le_bytes());
        b.extend(kvs.to_le_bytes());
        b
    }

    fn error(bytes: &[u8]) -> String {
        GgufFile::parse(bytes).err().expect("must fail").to_string()
    }

    #[test]
    fn counts_and_lengths_that_lie_are_errors() {
        assert!(error(b"GGML").contains("not a GGUF file"));
        assert!(error(&header(u64::MAX, 0)).contains("tensors cannot fit"));
        assert!(error(&header(0, 1 << 40)).contains("metadata entries cannot fit"));
        // A key whose length is far beyond the file.
        let mut b = header(0, 1);
        b.extend((1u64 << 50).to_le_bytes());
        b.extend([0u8; 8]); // enough left for one entry's minimum, far too little for the key
        assert!(error(&b).contains("string bytes cannot fit"));
        // An array of 2^40 u32s.
        let mut b = header(0, 1);
        b.extend(1u64.to_le_bytes());
        b.push(b'k');
        b.extend(9u32.to_le_bytes());
        b.extend(4u32.to_le_bytes());
        b.extend((1u64 << 40).to_le_bytes());
        assert!(error(&b).contains("array elements cannot fit"));
        let mut v1 = header(0, 0);
        v1[4..8].copy_from_slice(&1u32.to_le_bytes());
        assert!(error(&v1).contains("GGUF version 1"));
    }

    #[test]
    fn tensors_past_the_end_or_with_odd_shapes_are_errors() {
        let tensor = |dims: &[u64], kind: u32, offset: u64| {
            let mut b = header(1, 0);
            b.extend(1u64.to_le_bytes());
            b.push(b't');
            b.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                b.extend(d.to_le_bytes());
            }
            b.extend(kind.to_le_bytes());
            b.extend(offset.to_le_bytes());
            b.resize(b.len().next_multiple_of(32) + 64, 0);
            b
        };
        // 16 f32s fit in the 64 data bytes; 17 do not.
        assert!(GgufFile::parse(&tensor(&[16], 0, 0)).is_ok());
        assert!(error(&tensor(&[17], 0, 0)).contains("run past the end"));
        assert!(error(&tensor(&[u64::MAX, 4], 0, 0)).contains("too large"));
        assert!(error(&tensor(&[16], 0, 8)).contains("not aligned"));
        assert!(error(&tensor(&[16], 0, u64::MAX - 31)).contains("run past the end"));
        // Q8_0 rows must be whole blocks of 32.
        assert!(error(&tensor(&[16, 1], 8, 0)).contains("whole number of Q8_0 blocks"));
        assert!(error(&tensor(&[1, 1, 1, 1, 1], 0, 0)).contains("5 dimensions"));
        assert!(error(&tensor(&[4], 16, 0)).contains("GGML type 16"));
        assert!(error(&tensor(&[128], 12, 0)).contains("whole number of Q4_K blocks"));
    }
}
