//! Safetensors weights: one `model.safetensors`, or shards listed in `model.safetensors.index.json`.
//!
//! Natively the files are memory-mapped, so opening a multi-gigabyte checkpoint costs nothing until a tensor
//! is read; in wasm the page hands over the bytes it fetched. Either way a file's header is parsed once and a
//! tensor is a slice of the file, converted to f32 only when an engine asks for it.

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, Metadata, SafeTensors};

use crate::error::{ModelError, Result};

/// The bytes of one safetensors file.
enum Bytes {
    #[cfg(not(target_arch = "wasm32"))]
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            Bytes::Mapped(map) => map,
            Bytes::Owned(vec) => vec,
        }
    }
}

struct SafetensorsFile {
    name: String,
    bytes: Bytes,
    /// Offset of the data section (after the 8-byte length and the JSON header).
    data_start: usize,
    metadata: Metadata,
}

impl SafetensorsFile {
    fn parse(name: String, bytes: Bytes) -> Result<Self> {
        let (header_len, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| ModelError::Safetensors {
            file: name.clone(),
            message: describe_safetensors_error(&e, bytes.len()),
        })?;
        Ok(Self { name, bytes, data_start: 8 + header_len, metadata })
    }
}

fn describe_safetensors_error(error: &safetensors::SafeTensorError, len: usize) -> String {
    use safetensors::SafeTensorError as E;
    match error {
        E::MetadataIncompleteBuffer => {
            format!("the file is {len} bytes, which does not match its header (truncated or padded?)")
        }
        E::HeaderTooSmall | E::InvalidHeaderLength => {
            format!("the file is {len} bytes, too short for the header it declares (truncated?)")
        }
        other => other.to_string(),
    }
}

/// What a tensor is, without its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

impl TensorInfo {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// All tensors of a checkpoint, by name.
pub struct Weights {
    files: Vec<SafetensorsFile>,
    /// Tensor name → index into `files`.
    index: HashMap<String, usize>,
}

impl Weights {
    /// Weights from in-memory files (`(file name, bytes)`), as the browser loads them.
    pub fn from_bytes(files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let parsed = files
            .into_iter()
            .map(|(name, bytes)| SafetensorsFile::parse(name, Bytes::Owned(bytes)))
            .collect::<Result<Vec<_>>>()?;
        Self::from_files(parsed)
    }

    /// Memory-maps the weights of a model directory: `model.safetensors`, or every shard named by
    /// `model.safetensors.index.json`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open(dir: &std::path::Path) -> Result<Self> {
        let index_path = dir.join("model.safetensors.index.json");
        let names: Vec<String> = if index_path.exists() {
            let text = std::fs::read_to_string(&index_path).map_err(|e| ModelError::io(&index_path, e))?;
            shard_names(&text, &index_path)?
        } else {
            vec!["model.safetensors".to_owned()]
        };
        let files = names
            .into_iter()
            .map(|name| {
                let path = dir.join(&name);
                let file = std::fs::File::open(&path).map_err(|e| ModelError::io(&path, e))?;
                // SAFETY: the map is read-only and private to this process. Another process truncating the file
                // while it is mapped would fault; model files are not edited while a model is loaded.
                #[allow(unsafe_code)]
                let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| ModelError::io(&path, e))?;
                SafetensorsFile::parse(path.display().to_string(), Bytes::Mapped(map))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_files(files)
    }

    fn from_files(files: Vec<SafetensorsFile>) -> Result<Self> {
        let mut index = HashMap::new();
        for (i, file) in files.iter().enumerate() {
            for name in file.metadata.tensors().into_keys() {
                if let Some(previous) = index.insert(name.clone(), i) {
                    return Err(ModelError::Tensor {
                        file: file.name.clone(),
                        name,
                        message: format!("also present in {}", files[previous].name),
                    });
                }
            }
        }
        Ok(Self { files, index })
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.index.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    pub fn info(&self, name: &str) -> Option<TensorInfo> {
        let file = &self.files[*self.index.get(name)?];
        let info = file.metadata.info(name)?;
        Some(TensorInfo { dtype: info.dtype, shape: info.shape.clone() })
    }

    /// The `__metadata__` string map of every file, merged (quantized files name their scheme there).
    pub fn file_metadata(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .filter_map(|f| f.metadata.metadata().as_ref())
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Total size of the files in bytes.
    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(|f| f.bytes.len()).sum()
    }

    /// Number of tensor elements of each dtype.
    pub fn dtype_histogram(&self) -> BTreeMap<String, usize> {
        let mut histogram = BTreeMap::new();
        for name in self.index.keys() {
            let info = self.info(name).expect("indexed tensor has info");
            *histogram.entry(format!("{:?}", info.dtype)).or_insert(0) += info.elements();
        }
        histogram
    }

    /// The raw little-endian bytes of a tensor.
    pub fn raw(&self, name: &str) -> Result<(TensorInfo, &[u8])> {
        let missing = || ModelError::MissingTensor {
            name: name.to_owned(),
            files: self.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
        };
        let file = &self.files[*self.index.get(name).ok_or_else(missing)?];
        let info = file.metadata.info(name).ok_or_else(missing)?;
        let (start, end) = info.data_offsets;
        let bytes = &file.bytes[file.data_start + start..file.data_start + end];
        Ok((TensorInfo { dtype: info.dtype, shape: info.shape.clone() }, bytes))
    }

    /// A float tensor converted to f32, after checking that its shape is `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (info, bytes) = self.raw(name)?;
        let file = &self.files[self.index[name]].name;
        if info.shape != shape {
            return Err(ModelError::Tensor {
                file: file.clone(),
                name: name.to_owned(),
                message: format!("shape {:?}, expected {:?} from config.json", info.shape, shape),
            });
        }
        to_f32(info.dtype, bytes).ok_or_else(|| ModelError::Tensor {
            file: file.clone(),
            name: name.to_owned(),
            message: format!("dtype {:?} is not a float type (f32, f16, bf16)", info.dtype),
        })
    }
}

/// Little-endian f32 / f16 / bf16 bytes as f32 values; `None` for other dtypes.
pub fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let halves = || bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    Some(match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => halves().map(|h| half::f16::from_bits(h).to_f32()).collect(),
        Dtype::BF16 => halves().map(|h| half::bf16::from_bits(h).to_f32()).collect(),
        _ => return None,
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn shard_names(index_json: &str, path: &std::path::Path) -> Result<Vec<String>> {
    let malformed = |message: String| ModelError::Json { path: path.to_owned(), message };
    let value: serde_json::Value = serde_json::from_str(index_json).map_err(|e| malformed(e.to_string()))?;
    let map = value
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| malformed("missing `weight_map` object".into()))?;
    let mut names: Vec<String> = map
        .values()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| malformed(format!("shard name {v} is not a string"))))
        .collect::<Result<_>>()?;
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn file_with(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .map(|(name, dtype, shape, data)| (name.to_string(), TensorView::new(*dtype, shape.clone(), data).unwrap()))
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn converts_half_precision_exactly() {
        // 1.5 and -2.0 are exact in f16 and bf16: f16 1.5 = 0x3E00, -2 = 0xC000; bf16 1.5 = 0x3FC0, -2 = 0xC000.
        let f16 = [0x3E00u16, 0xC000].iter().flat_map(|h| h.to_le_bytes()).collect();
        let bf16 = [0x3FC0u16, 0xC000].iter().flat_map(|h| h.to_le_bytes()).collect();
        let f32 = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let bytes = file_with(&[
            ("a", Dtype::F16, vec![2], f16),
            ("b", Dtype::BF16, vec![2], bf16),
            ("c", Dtype::F32, vec![1, 2], f32),
        ]);
        let weights = Weights::from_bytes(vec![("w.safetensors".into(), bytes)]).unwrap();
        assert_eq!(weights.f32("a", &[2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(weights.f32("b", &[2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(weights.f32("c", &[1, 2]).unwrap(), vec![1.5, -2.0]);
        let err = weights.f32("c", &[2]).unwrap_err().to_string();
        assert!(err.contains("shape [1, 2], expected [2]"), "{err}");
        let err = weights.f32("zzz", &[2]).unwrap_err().to_string();
        assert!(err.contains("missing tensor `zzz`"), "{err}");
    }

    #[test]
    fn truncated_file_is_a_clear_error() {
        let mut bytes = file_with(&[("a", Dtype::F32, vec![4], vec![0; 16])]);
        bytes.truncate(bytes.len() - 3);
        let err = Weights::from_bytes(vec![("model.safetensors".into(), bytes)]).err().unwrap().to_string();
        assert!(err.starts_with("model.safetensors: invalid safetensors:"), "{err}");
        assert!(err.contains("truncated"), "{err}");
        let err = Weights::from_bytes(vec![("x.safetensors".into(), vec![1, 2, 3])]).err().unwrap().to_string();
        assert!(err.contains("too short"), "{err}");
    }
}
