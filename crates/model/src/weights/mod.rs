//! Safetensors weights: one `model.safetensors`, or shards listed in `model.safetensors.index.json`.
//!
//! Natively the files are memory-mapped, so opening a multi-gigabyte checkpoint costs nothing until a tensor
//! is read; in wasm the page hands over the bytes it fetched. Either way a file's header is parsed once and a
//! tensor is a slice of the file, converted to f32 only when an engine asks for it.
//!
//! A file may hold quantized tensors (see [`crate::quant`] for the format): each is listed under its own name
//! with its logical `[rows, cols]` shape, its `.scales` (and `.mins`) companions are hidden, and [`Weights::f32`] dequantizes it.

use std::collections::{BTreeMap, HashMap, HashSet};

use safetensors::tensor::{Dtype, Metadata, SafeTensors};

mod random;
mod write;

pub use write::{TensorData, write_safetensors};

use crate::arch::Stored;
use crate::error::{ModelError, Result};
use crate::quant::{self, GROUP_SIZE_KEY, MINS_SUFFIX, QUANT_KEY, QuantScheme, QuantTensor, SCALES_SUFFIX};

/// A file's bytes kept outside this program's memory and copied out a tensor at a time: the page's CPU
/// workers read the downloaded files this way, so that a worker never holds a whole file beside the model it
/// builds from it (a 0.5B model's is 420 MiB).
pub trait ByteSource: Send + Sync {
    /// The file's size in bytes.
    fn size(&self) -> usize;
    /// A copy of bytes `range` (within `0..size()`).
    fn read(&self, range: std::ops::Range<usize>) -> Vec<u8>;
}

/// A file's bytes as a caller hands them over: in memory, or in a [`ByteSource`].
pub enum FileBytes {
    Owned(Vec<u8>),
    Source(Box<dyn ByteSource>),
}

impl From<Vec<u8>> for FileBytes {
    fn from(bytes: Vec<u8>) -> Self {
        FileBytes::Owned(bytes)
    }
}

/// The bytes of one safetensors file.
enum Bytes {
    #[cfg(not(target_arch = "wasm32"))]
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
    Source(Box<dyn ByteSource>),
}

impl Bytes {
    fn len(&self) -> usize {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            Bytes::Mapped(map) => map.len(),
            Bytes::Owned(vec) => vec.len(),
            Bytes::Source(source) => source.size(),
        }
    }

    /// Bytes `range`: borrowed where the file is in memory, copied out of a source.
    fn slice(&self, range: std::ops::Range<usize>) -> std::borrow::Cow<'_, [u8]> {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            Bytes::Mapped(map) => map[range].into(),
            Bytes::Owned(vec) => vec[range].into(),
            Bytes::Source(source) => source.read(range).into(),
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
        let fail = |message| ModelError::Safetensors { file: name.clone(), message };
        let (header_len, metadata) = match &bytes {
            Bytes::Source(source) => source_metadata(source.as_ref()).map_err(fail)?,
            // In memory: `slice` borrows the whole file, it copies nothing.
            in_memory => {
                let whole = in_memory.slice(0..in_memory.len());
                SafeTensors::read_metadata(&whole).map_err(|e| fail(describe_safetensors_error(&e, whole.len())))?
            }
        };
        Ok(Self { name, bytes, data_start: 8 + header_len, metadata })
    }
}

/// The header of a file in a [`ByteSource`], held to what `SafeTensors::read_metadata` checks of a file in
/// memory: a header within its bounds, every tensor's bytes right after the one before and as many as its
/// shape and dtype take, and the data ending where the file ends.
fn source_metadata(source: &dyn ByteSource) -> std::result::Result<(usize, Metadata), String> {
    const MAX_HEADER: usize = 100_000_000;
    let len = source.size();
    let short = || format!("the file is {len} bytes, too short for the header it declares (truncated?)");
    if len < 8 {
        return Err(short());
    }
    let declared = u64::from_le_bytes(source.read(0..8).try_into().expect("eight bytes"));
    let header = usize::try_from(declared).ok().filter(|&n| n <= MAX_HEADER && n <= len - 8).ok_or_else(short)?;
    let metadata: Metadata =
        serde_json::from_slice(&source.read(8..8 + header)).map_err(|e| format!("unreadable header: {e}"))?;
    let mut tensors: Vec<_> = metadata.tensors().into_iter().collect();
    tensors.sort_by_key(|(_, info)| info.data_offsets);
    let mut end = 0usize;
    for (name, info) in tensors {
        let (first, last) = info.data_offsets;
        let bits = info.shape.iter().try_fold(info.dtype.bitsize(), |n, &d| n.checked_mul(d));
        if first != end || last < first || bits.filter(|b| b % 8 == 0).map(|b| b / 8) != Some(last - first) {
            return Err(format!("tensor `{name}`: its offsets do not match its place, shape and dtype"));
        }
        end = last;
    }
    if 8 + header + end != len {
        return Err(format!("the file is {len} bytes, which does not match its header (truncated or padded?)"));
    }
    Ok((header, metadata))
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
    /// The stored dtype: `U32` (the packed words) for a quantized tensor.
    pub dtype: Dtype,
    /// The logical shape: `[rows, cols]` for a quantized tensor, whatever its packed words' shape.
    pub shape: Vec<usize>,
    /// The scheme of a quantized tensor, `None` for any other.
    pub quantized: Option<QuantScheme>,
}

impl TensorInfo {
    /// Logical element count.
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Where a quantized tensor's parts are and what they mean (checked when the weights are opened).
#[derive(Clone, Copy, Debug)]
struct QuantEntry {
    scheme: QuantScheme,
    group_size: usize,
    rows: usize,
    cols: usize,
}

/// All tensors of a checkpoint, by name.
pub struct Weights {
    files: Vec<SafetensorsFile>,
    /// Stored tensor name → index into `files`.
    index: HashMap<String, usize>,
    /// Quantized tensors by name.
    quantized: HashMap<String, QuantEntry>,
    /// The `.scales` and `.mins` companions of quantized tensors: stored, but not model tensors.
    companions: HashSet<String>,
}

impl Weights {
    /// Weights from in-memory files (`(file name, bytes)`), as the browser loads them.
    pub fn from_bytes(files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        Self::from_file_bytes(files.into_iter().map(|(name, bytes)| (name, FileBytes::Owned(bytes))).collect())
    }

    /// Weights from files in memory or in [`ByteSource`]s (whose tensors are copied out as they are read).
    pub fn from_file_bytes(files: Vec<(String, FileBytes)>) -> Result<Self> {
        let parsed = files
            .into_iter()
            .map(|(name, bytes)| {
                let bytes = match bytes {
                    FileBytes::Owned(vec) => Bytes::Owned(vec),
                    FileBytes::Source(source) => Bytes::Source(source),
                };
                SafetensorsFile::parse(name, bytes)
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_files(parsed)
    }

    /// Weights from tensors in memory (an imported GGUF file): one safetensors image per quantization scheme,
    /// since a file's metadata names one, the float tensors with the first.
    pub fn from_tensors(name: &str, tensors: Vec<(String, TensorData)>) -> Result<Self> {
        type Scheme = Option<(QuantScheme, usize)>;
        let scheme = |t: &TensorData| if let TensorData::Quant(q) = t { Some((q.scheme, q.group_size)) } else { None };
        let mut groups: Vec<(Scheme, Vec<(String, TensorData)>)> = Vec::new();
        for (tensor_name, data) in tensors {
            let key = scheme(&data);
            let at = match groups.iter().position(|(k, _)| *k == key || (key.is_none() && k.is_some())) {
                Some(at) => at,
                None => {
                    groups.push((key, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[at].1.push((tensor_name, data));
        }
        let files = groups
            .into_iter()
            .enumerate()
            .map(|(i, (_, group))| {
                Ok((format!("{name} (part {})", i + 1), write_safetensors(&group, &BTreeMap::new())?))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_bytes(files)
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

    /// These weights and `other`'s together (a delta over its base). A name in both is an error.
    pub fn join(mut self, other: Weights) -> Result<Self> {
        self.files.extend(other.files);
        Self::from_files(self.files)
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
        let mut weights = Self { files, index, quantized: HashMap::new(), companions: HashSet::new() };
        weights.index_quantized()?;
        Ok(weights)
    }

    /// Finds the quantized tensors of every file that declares a scheme, checking each against the format so
    /// that reading one later cannot fail on its shape.
    fn index_quantized(&mut self) -> Result<()> {
        for file in &self.files {
            let Some(meta) = file.metadata.metadata().as_ref() else { continue };
            let Some(scheme_name) = meta.get(QUANT_KEY) else { continue };
            let bad_file = |message: String| ModelError::Safetensors { file: file.name.clone(), message };
            let scheme = QuantScheme::parse(scheme_name).ok_or_else(|| {
                bad_file(format!("unknown quantization scheme {scheme_name:?} in {QUANT_KEY} (expected q8 or q4)"))
            })?;
            let group_text = meta.get(GROUP_SIZE_KEY).ok_or_else(|| {
                bad_file(format!("{QUANT_KEY} is {scheme_name:?} but the metadata has no {GROUP_SIZE_KEY}"))
            })?;
            let group_size = group_text
                .parse::<usize>()
                .ok()
                .filter(|&g| g > 0)
                .ok_or_else(|| bad_file(format!("{GROUP_SIZE_KEY} {group_text:?} is not a positive integer")))?;
            let mut names: Vec<(String, Vec<usize>)> = file
                .metadata
                .tensors()
                .into_iter()
                .filter(|(_, info)| info.dtype == Dtype::U32)
                .map(|(name, info)| (name, info.shape.clone()))
                .collect();
            names.sort();
            for (name, shape) in names {
                let bad = |message: String| ModelError::Tensor {
                    file: file.name.clone(),
                    name: name.clone(),
                    message: format!("{} tensor: {message}", scheme.name()),
                };
                let &[rows, words_per_row] = shape.as_slice() else {
                    return Err(bad(format!("packed words of shape {shape:?}, expected [rows, words]")));
                };
                let cols = words_per_row * scheme.values_per_word();
                quant::check_layout(scheme, group_size, cols).map_err(|m| bad(format!("{m} ({shape:?} words)")))?;
                let expected = [rows, cols / group_size];
                let suffixes: &[&str] =
                    if scheme.has_mins() { &[SCALES_SUFFIX, MINS_SUFFIX] } else { &[SCALES_SUFFIX] };
                for suffix in suffixes {
                    let companion = format!("{name}{suffix}");
                    let what = &suffix[1..];
                    let info = self
                        .index
                        .get(&companion)
                        .and_then(|&i| self.files[i].metadata.info(&companion))
                        .ok_or_else(|| bad(format!("its {what} `{companion}` are missing")))?;
                    if info.dtype != Dtype::F16 || info.shape != expected {
                        return Err(bad(format!(
                            "{what} `{companion}` are {:?} {:?}, expected F16 {expected:?} ({cols} columns in groups \
                             of {group_size})",
                            info.dtype, info.shape
                        )));
                    }
                    self.companions.insert(companion);
                }
                self.quantized.insert(name, QuantEntry { scheme, group_size, rows, cols });
            }
        }
        Ok(())
    }

    /// Model tensor names, sorted (a quantized tensor's `.scales` companion is not one).
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> =
            self.index.keys().map(String::as_str).filter(|n| !self.companions.contains(*n)).collect();
        names.sort_unstable();
        names
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name) && !self.companions.contains(name)
    }

    /// A model tensor's dtype and logical shape.
    pub fn info(&self, name: &str) -> Option<TensorInfo> {
        if !self.contains(name) {
            return None;
        }
        if let Some(q) = self.quantized.get(name) {
            return Some(TensorInfo { dtype: Dtype::U32, shape: vec![q.rows, q.cols], quantized: Some(q.scheme) });
        }
        let info = self.files[self.index[name]].metadata.info(name)?;
        Some(TensorInfo { dtype: info.dtype, shape: info.shape.clone(), quantized: None })
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

    /// Logical tensor elements over every tensor (a model's stored parameter count).
    pub fn elements(&self) -> usize {
        self.names().iter().filter_map(|name| self.info(name)).map(|info| info.elements()).sum()
    }

    /// Total size of the files in bytes.
    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(|f| f.bytes.len()).sum()
    }

    /// Number of logical tensor elements of each dtype (`Q8`/`Q4` for quantized tensors).
    pub fn dtype_histogram(&self) -> BTreeMap<String, usize> {
        let mut histogram = BTreeMap::new();
        for name in self.names() {
            let info = self.info(name).expect("listed tensor has info");
            let key = match info.quantized {
                Some(scheme) => format!("{scheme:?}"),
                None => format!("{:?}", info.dtype),
            };
            *histogram.entry(key).or_insert(0) += info.elements();
        }
        histogram
    }

    /// The bytes of a stored tensor as the file holds them, with its stored dtype and shape: for a quantized
    /// tensor its packed words (its scales are the stored tensor `<name>.scales`).
    pub fn raw(&self, name: &str) -> Result<(TensorInfo, std::borrow::Cow<'_, [u8]>)> {
        let missing = || self.missing(name);
        let file = &self.files[*self.index.get(name).ok_or_else(missing)?];
        let info = file.metadata.info(name).ok_or_else(missing)?;
        let (start, end) = info.data_offsets;
        let bytes = file.bytes.slice(file.data_start + start..file.data_start + end);
        let quantized = self.quantized.get(name).map(|q| q.scheme);
        Ok((TensorInfo { dtype: info.dtype, shape: info.shape.clone(), quantized }, bytes))
    }

    /// The name of the file that holds a stored tensor (empty if there is none).
    pub(crate) fn file_of(&self, name: &str) -> &str {
        self.index.get(name).map_or("", |&i| self.files[i].name.as_str())
    }

    fn missing(&self, name: &str) -> ModelError {
        ModelError::MissingTensor { name: name.to_owned(), files: self.describe_files() }
    }

    /// A float or quantized tensor as f32 (dequantized), after checking that its shape is `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let info = self.info(name).ok_or_else(|| self.missing(name))?;
        let file = &self.files[self.index[name]].name;
        if info.shape != shape {
            return Err(ModelError::Tensor {
                file: file.clone(),
                name: name.to_owned(),
                message: format!("shape {:?}, expected {:?} from config.json", info.shape, shape),
            });
        }
        if let Some(q) = self.quant(name)? {
            return Ok(q.dequantize());
        }
        let (info, bytes) = self.raw(name)?;
        let values = to_f32(info.dtype, &bytes).ok_or_else(|| ModelError::Tensor {
            file: file.clone(),
            name: name.to_owned(),
            message: format!("dtype {:?} is not a float type (f32, f16, bf16)", info.dtype),
        })?;
        match values.iter().position(|v| !v.is_finite()) {
            Some(at) => Err(self.not_finite(name, at, values[at])),
            None => Ok(values),
        }
    }

    /// A weight that is NaN or infinite: the file is damaged, or training diverged. No engine runs on it.
    fn not_finite(&self, name: &str, at: usize, value: f32) -> ModelError {
        ModelError::Tensor {
            file: self.file_of(name).to_owned(),
            name: name.to_owned(),
            message: format!(
                "value {at} is {value}: weights must be finite (a damaged file, or a diverged training run)"
            ),
        }
    }

    /// A matrix as stored (f32 from any float dtype, or quantized), after checking that it is `[rows, cols]`.
    pub fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Stored> {
        match self.quant(name)? {
            Some(q) if q.rows == rows && q.cols == cols => Ok(Stored::Quant(q)),
            Some(q) => Err(ModelError::Tensor {
                file: self.file_of(name).to_owned(),
                name: name.to_owned(),
                message: format!("shape {:?}, expected {:?} from config.json", [q.rows, q.cols], [rows, cols]),
            }),
            None => Ok(Stored::F32 { rows, cols, values: self.f32(name, &[rows, cols])? }),
        }
    }

    /// The files' names, for messages.
    pub(crate) fn describe_files(&self) -> String {
        self.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// A quantized tensor's packed words and scales; `None` for a tensor stored as floats.
    pub fn quant(&self, name: &str) -> Result<Option<QuantTensor>> {
        if !self.contains(name) {
            return Err(self.missing(name));
        }
        let Some(&QuantEntry { scheme, group_size, rows, cols }) = self.quantized.get(name) else {
            return Ok(None);
        };
        let (_, words) = self.raw(name)?;
        let halves = |suffix: &str| -> Result<Vec<u16>> {
            let (_, bytes) = self.raw(&format!("{name}{suffix}"))?;
            Ok(bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect())
        };
        let words: Vec<u32> = words.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let scales = halves(SCALES_SUFFIX)?;
        let mins = if scheme.has_mins() { halves(MINS_SUFFIX)? } else { Vec::new() };
        let q = QuantTensor { scheme, group_size, rows, cols, words, scales, mins };
        // Opening checked the shapes and safetensors the byte counts; this guards the slicing in dequantize.
        if !q.is_complete() {
            return Err(ModelError::Tensor {
                file: self.files[self.index[name]].name.clone(),
                name: name.to_owned(),
                message: format!(
                    "{} words, {} scales and {} minimums for {rows} × {cols}",
                    q.words.len(),
                    q.scales.len(),
                    q.mins.len()
                ),
            });
        }
        // The packed integers are finite by construction; an f16 with all exponent bits set is ±∞ or NaN.
        for (suffix, halves) in [(SCALES_SUFFIX, &q.scales), (MINS_SUFFIX, &q.mins)] {
            if let Some(at) = halves.iter().position(|&s| s & 0x7c00 == 0x7c00) {
                let value = half::f16::from_bits(halves[at]).to_f32();
                return Err(self.not_finite(&format!("{name}{suffix}"), at, value));
            }
        }
        Ok(Some(q))
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
    fn non_finite_weights_are_refused_by_name() {
        let values = [0.5f32, f32::NAN, 1.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let infinite = [0x7C00u16, 0].iter().flat_map(|h| h.to_le_bytes()).collect(); // f16 +∞
        let bytes = file_with(&[("a", Dtype::F32, vec![3], values), ("b", Dtype::F16, vec![2], infinite)]);
        let weights = Weights::from_bytes(vec![("w.safetensors".into(), bytes)]).unwrap();
        let err = weights.f32("a", &[3]).unwrap_err().to_string();
        assert_eq!(
            err,
            "w.safetensors: tensor `a`: value 1 is NaN: weights must be finite (a damaged file, or a diverged training run)"
        );
        let err = weights.f32("b", &[2]).unwrap_err().to_string();
        assert!(err.contains("tensor `b`: value 0 is inf"), "{err}");
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

    /// A file in memory behind a [`ByteSource`] that counts the bytes copied out of it.
    struct Counted {
        bytes: Vec<u8>,
        read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl ByteSource for Counted {
        fn size(&self) -> usize {
            self.bytes.len()
        }
        fn read(&self, range: std::ops::Range<usize>) -> Vec<u8> {
            self.read.fetch_add(range.len(), std::sync::atomic::Ordering::Relaxed);
            self.bytes[range].to_vec()
        }
    }

    fn from_source(bytes: Vec<u8>) -> (Result<Weights>, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let read = std::sync::Arc::default();
        let source = Counted { bytes, read: std::sync::Arc::clone(&read) };
        (Weights::from_file_bytes(vec![("s.safetensors".into(), FileBytes::Source(Box::new(source)))]), read)
    }

    #[test]
    fn a_file_in_a_source_reads_as_in_memory_a_tensor_at_a_time() {
        let big: Vec<u8> = [0.25f32; 1000].iter().flat_map(|x| x.to_le_bytes()).collect();
        let small: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let bytes = file_with(&[("big", Dtype::F32, vec![10, 100], big), ("small", Dtype::F32, vec![2], small)]);
        let (weights, read) = from_source(bytes.clone());
        let weights = weights.unwrap();
        let header = read.load(std::sync::atomic::Ordering::Relaxed);
        assert!(header < 200, "opening read {header} bytes: the header only");
        assert_eq!(weights.f32("small", &[2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(read.load(std::sync::atomic::Ordering::Relaxed), header + 8, "the small tensor's 8 bytes, no more");
        let in_memory = Weights::from_bytes(vec![("m.safetensors".into(), bytes.clone())]).unwrap();
        assert_eq!(weights.f32("big", &[10, 100]).unwrap(), in_memory.f32("big", &[10, 100]).unwrap());
        assert_eq!(weights.total_bytes(), bytes.len());
        // What a file in memory may not be, a file in a source may not be either.
        let mut truncated = bytes.clone();
        truncated.truncate(bytes.len() - 3);
        let err = from_source(truncated).0.err().unwrap().to_string();
        assert!(err.starts_with("s.safetensors: invalid safetensors:") && err.contains("truncated"), "{err}");
        assert!(from_source(vec![1, 2, 3]).0.err().unwrap().to_string().contains("too short"));
        // The small tensor's shape said to be [3] (its offsets still 8 bytes apart).
        let mut lying = bytes.clone();
        let at = bytes.windows(3).position(|w| w == b"[2]").expect("the header names the shape");
        lying[at + 1] = b'3';
        assert!(Weights::from_bytes(vec![("m.safetensors".into(), lying.clone())]).is_err());
        let err = from_source(lying).0.err().unwrap().to_string();
        assert!(err.starts_with("s.safetensors: invalid safetensors:"), "{err}");
        let mut garbled = bytes.clone();
        garbled[9] = b'!';
        assert!(from_source(garbled).0.err().unwrap().to_string().contains("unreadable header"));
    }
}

#[cfg(test)]
mod quantized_tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn open(bytes: Vec<u8>) -> Result<Weights> {
        Weights::from_bytes(vec![("q.safetensors".into(), bytes)])
    }

    /// A file with raw tensors and the given `__metadata__`.
    fn raw_file(tensors: &[(&str, Dtype, Vec<usize>)], metadata: &[(&str, &str)]) -> Vec<u8> {
        let data: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, dtype, shape)| vec![0; shape.iter().product::<usize>() * dtype.bitsize() / 8])
            .collect();
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .zip(&data)
            .map(|((name, dtype, shape), data)| {
                (name.to_string(), TensorView::new(*dtype, shape.clone(), data).unwrap())
            })
            .collect();
        let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        safetensors::serialize(views, Some(metadata)).unwrap()
    }

    fn error_of(tensors: &[(&str, Dtype, Vec<usize>)], metadata: &[(&str, &str)]) -> String {
        open(raw_file(tensors, metadata)).err().expect("malformed file must not open").to_string()
    }

    #[test]
    fn quantized_file_reads_back() {
        let w: Vec<f32> = (0..4 * 32).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let q = QuantTensor::quantize(&w, 4, 32, QuantScheme::Q4, 16).unwrap();
        let tensors = vec![
            ("layer.weight".to_owned(), TensorData::Quant(q.clone())),
            ("norm.weight".to_owned(), TensorData::F32 { shape: vec![32], values: vec![1.0; 32] }),
            ("half.weight".to_owned(), TensorData::F16 { shape: vec![2], bits: vec![0x3C00, 0xC000] }),
        ];
        let extra = BTreeMap::from([("note".to_owned(), "test".to_owned())]);
        let weights = open(write_safetensors(&tensors, &extra).unwrap()).unwrap();

        assert_eq!(weights.names(), vec!["half.weight", "layer.weight", "norm.weight"]);
        assert!(!weights.contains("layer.weight.scales"));
        let info = weights.info("layer.weight").unwrap();
        assert_eq!(info, TensorInfo { dtype: Dtype::U32, shape: vec![4, 32], quantized: Some(QuantScheme::Q4) });
        assert_eq!(weights.info("norm.weight").unwrap().quantized, None);
        assert_eq!(weights.quant("layer.weight").unwrap(), Some(q.clone()));
        assert_eq!(weights.quant("norm.weight").unwrap(), None);
        assert!(weights.quant("nope").is_err());
        assert_eq!(weights.f32("layer.weight", &[4, 32]).unwrap(), q.dequantize());
        assert_eq!(weights.f32("half.weight", &[2]).unwrap(), vec![1.0, -2.0]);
        let err = weights.f32("layer.weight", &[4, 4]).unwrap_err().to_string();
        assert!(err.contains("shape [4, 32], expected [4, 4]"), "{err}");
        let histogram = weights.dtype_histogram();
        assert_eq!(histogram, BTreeMap::from([("F16".into(), 2), ("F32".into(), 32), ("Q4".into(), 128)]));
        let metadata = weights.file_metadata();
        assert_eq!(metadata["unmask.quant"], "q4");
        assert_eq!(metadata["unmask.group_size"], "16");
        assert_eq!(metadata["note"], "test");
        // The stored layout: 4 × 32/8 words, 4 × 32/16 f16 scales.
        let (stored, bytes) = weights.raw("layer.weight").unwrap();
        assert_eq!((stored.dtype, stored.shape, bytes.len()), (Dtype::U32, vec![4, 4], 64));
        let (scales, _) = weights.raw("layer.weight.scales").unwrap();
        assert_eq!((scales.dtype, scales.shape), (Dtype::F16, vec![4, 2]));
    }

    #[test]
    fn q4a_file_reads_back_with_its_minimums() {
        let w: Vec<f32> = (0..4 * 32).map(|i| ((i * 37 % 101) as f32 - 20.0) / 25.0).collect();
        let q = QuantTensor::quantize(&w, 4, 32, QuantScheme::Q4A, 32).unwrap();
        let weights =
            open(write_safetensors(&[("w".to_owned(), TensorData::Quant(q.clone()))], &BTreeMap::new()).unwrap())
                .unwrap();
        assert_eq!(weights.names(), vec!["w"]);
        assert_eq!(weights.file_metadata()["unmask.quant"], "q4a");
        assert_eq!(weights.quant("w").unwrap(), Some(q.clone()));
        assert_eq!(weights.f32("w", &[4, 32]).unwrap(), q.dequantize());
        let (mins, bytes) = weights.raw("w.mins").unwrap();
        assert_eq!((mins.dtype, mins.shape, bytes.len()), (Dtype::F16, vec![4, 1], 8));
    }

    #[test]
    fn the_same_tensors_always_make_the_same_file() {
        let q = QuantTensor::quantize(&[0.5; 64], 2, 32, QuantScheme::Q8, 32).unwrap();
        let tensors = vec![
            ("z.weight".to_owned(), TensorData::F16 { shape: vec![3], bits: vec![0x3C00; 3] }),
            ("layer.weight".to_owned(), TensorData::Quant(q)),
            ("a.weight".to_owned(), TensorData::F32 { shape: vec![1], values: vec![2.0] }),
        ];
        let extra = BTreeMap::from([("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())]);
        let first = write_safetensors(&tensors, &extra).unwrap();
        for _ in 0..8 {
            assert!(write_safetensors(&tensors, &extra).unwrap() == first, "the same tensors wrote another file");
        }
        // The header as the format defines it: its length, then JSON padded with spaces to a multiple of 8; the
        // metadata and tensors in key order; each tensor's data aligned to its element width, back to back.
        let length = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        assert_eq!(length % 8, 0);
        let text = std::str::from_utf8(&first[8..8 + length]).unwrap();
        let metadata = r#"{"__metadata__":{"a":"1","b":"2","unmask.group_size":"32","unmask.quant":"q8"},"#;
        assert!(text.starts_with(metadata), "{text}");
        let header: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        let span = |name: &str| {
            let offsets = &header[name]["data_offsets"];
            (offsets[0].as_u64().unwrap(), offsets[1].as_u64().unwrap())
        };
        // Widest first: the u32 words and the f32 vector (by name), then the f16 scales and vector.
        assert_eq!(span("a.weight"), (0, 4));
        assert_eq!(span("layer.weight"), (4, 4 + 2 * 32));
        assert_eq!(span("layer.weight.scales"), (68, 68 + 2 * 2));
        assert_eq!(span("z.weight"), (72, 78));
        assert_eq!(first.len(), 8 + length + 78);
    }

    #[test]
    fn a_non_finite_quantization_scale_is_refused() {
        let mut q = QuantTensor::quantize(&[1.0; 64], 2, 32, QuantScheme::Q8, 32).unwrap();
        q.scales[1] = 0x7E00; // f16 NaN
        let tensors = vec![("layer.weight".to_owned(), TensorData::Quant(q))];
        let weights = open(write_safetensors(&tensors, &BTreeMap::new()).unwrap()).unwrap();
        let err = weights.matrix("layer.weight", 2, 32).err().unwrap().to_string();
        assert!(err.contains("tensor `layer.weight.scales`: value 1 is NaN"), "{err}");
    }

    #[test]
    fn writer_rejects_mixed_formats_and_bad_sizes() {
        let q8 = QuantTensor::quantize(&[1.0; 8], 1, 8, QuantScheme::Q8, 4).unwrap();
        let q4 = QuantTensor::quantize(&[1.0; 8], 1, 8, QuantScheme::Q4, 8).unwrap();
        let mixed = [("a".to_owned(), TensorData::Quant(q8.clone())), ("b".to_owned(), TensorData::Quant(q4))];
        let err = write_safetensors(&mixed, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("q4 with group size 8 in a file of q8 with group size 4"), "{err}");
        let mut short = q8.clone();
        short.words.pop();
        let err = write_safetensors(&[("a".to_owned(), TensorData::Quant(short))], &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("1 words, 2 scales and 0 minimums for 1 × 8"), "{err}");
        let clash = [
            ("a".to_owned(), TensorData::Quant(q8)),
            ("a.scales".to_owned(), TensorData::F32 { shape: vec![1], values: vec![0.0] }),
        ];
        let err = write_safetensors(&clash, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("`a.scales` written twice"), "{err}");
        let bad = [("x".to_owned(), TensorData::F32 { shape: vec![3], values: vec![0.0; 2] })];
        assert!(write_safetensors(&bad, &BTreeMap::new()).unwrap_err().to_string().contains("2 values for shape [3]"));
    }

    #[test]
    fn malformed_quantized_files_are_clear_errors() {
        use Dtype::{F16, F32, U32};
        let q8 = [("unmask.quant", "q8"), ("unmask.group_size", "32")];
        let good = [("w", U32, vec![2, 8]), ("w.scales", F16, vec![2, 1])];
        assert!(open(raw_file(&good, &q8)).is_ok());

        let e = error_of(&good, &[("unmask.quant", "q3"), ("unmask.group_size", "32")]);
        assert!(e.starts_with("q.safetensors: invalid safetensors: unknown quantization scheme \"q3\""), "{e}");
        let e = error_of(&good, &[("unmask.quant", "q8")]);
        assert!(e.contains("no unmask.group_size"), "{e}");
        for group in ["0", "-4", "abc"] {
            let e = error_of(&good, &[("unmask.quant", "q8"), ("unmask.group_size", group)]);
            assert!(e.contains("is not a positive integer"), "{e}");
        }
        let e = error_of(&good, &[("unmask.quant", "q4"), ("unmask.group_size", "12")]);
        assert!(e.contains("`w`: q4 tensor: group size 12 is not a multiple of 8"), "{e}");
        let e = error_of(&[("w", U32, vec![2, 8])], &q8);
        assert!(e.contains("q.safetensors: tensor `w`: q8 tensor: its scales `w.scales` are missing"), "{e}");
        // 7 words = 28 columns: not whole groups of 32.
        let e = error_of(&[("w", U32, vec![2, 7]), ("w.scales", F16, vec![2, 1])], &q8);
        assert!(e.contains("28 columns are not a multiple of the group size 32"), "{e}");
        // 16 words = 64 columns = 2 groups a row, but one scale a row: the word count does not match the scales.
        let e = error_of(&[("w", U32, vec![2, 16]), ("w.scales", F16, vec![2, 1])], &q8);
        assert!(e.contains("scales `w.scales` are F16 [2, 1], expected F16 [2, 2]"), "{e}");
        let e = error_of(&[("w", U32, vec![2, 8]), ("w.scales", F32, vec![2, 1])], &q8);
        assert!(e.contains("are F32 [2, 1], expected F16 [2, 1]"), "{e}");
        let e = error_of(&[("w", U32, vec![16]), ("w.scales", F16, vec![2, 1])], &q8);
        assert!(e.contains("packed words of shape [16], expected [rows, words]"), "{e}");
        // q4a needs its minimums too, shaped like the scales.
        let q4a = [("unmask.quant", "q4a"), ("unmask.group_size", "32")];
        let e = error_of(&[("w", U32, vec![2, 4]), ("w.scales", F16, vec![2, 1])], &q4a);
        assert!(e.contains("tensor `w`: q4a tensor: its mins `w.mins` are missing"), "{e}");
        let e = error_of(&[("w", U32, vec![2, 4]), ("w.scales", F16, vec![2, 1]), ("w.mins", F16, vec![1, 2])], &q4a);
        assert!(e.contains("mins `w.mins` are F16 [1, 2], expected F16 [2, 1]"), "{e}");

        // Without the metadata a U32 tensor is just not a float tensor.
        let weights = open(raw_file(&good, &[])).unwrap();
        assert_eq!(weights.quant("w").unwrap(), None);
        let e = weights.f32("w", &[2, 8]).unwrap_err().to_string();
        assert!(e.contains("dtype U32 is not a float type"), "{e}");
    }
}
