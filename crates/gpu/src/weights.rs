//! Weights on the device: a decoder's tensors uploaded by name ([`DecoderBuffers`]), matrices in f32, q8, q4 or q4a,
//! split by rows into several buffers when one would exceed the device's largest storage binding.

use unmask_model::quant::{QuantScheme, QuantTensor};
use unmask_model::{DecoderTensors, LayerAdapter, LowRank, Stored};

use crate::kernels::Scheme;
use crate::{Buffer, Gpu, GpuError};

/// Stacks matrices with the same columns row-wise (q, k and v into one projection): as stored when they are
/// quantized alike, otherwise in f32 (a file may store q, k and v in different formats).
pub(crate) fn stack(parts: Vec<Stored>) -> Result<Stored, GpuError> {
    let cols = parts.first().map(Stored::cols).ok_or_else(|| GpuError::Internal("nothing to stack".into()))?;
    if parts.iter().any(|p| p.cols() != cols) {
        return Err(GpuError::Unsupported("q/k/v (or gate/up) projections of different widths".into()));
    }
    let scheme = |p: &Stored| if let Stored::Quant(q) = p { Some((q.scheme, q.group_size)) } else { None };
    if scheme(&parts[0]).is_some() && parts.iter().all(|p| scheme(p) == scheme(&parts[0])) {
        let quantized: Vec<QuantTensor> =
            parts.into_iter().filter_map(|p| if let Stored::Quant(q) = p { Some(q) } else { None }).collect();
        let rows = quantized.iter().map(|q| q.rows).sum();
        let mut stacked = QuantTensor::empty(quantized[0].scheme, quantized[0].group_size, rows, cols);
        for q in &quantized {
            (0..q.rows).for_each(|r| stacked.push_row(q, r));
        }
        return Ok(Stored::Quant(stacked));
    }
    let rows = parts.iter().map(Stored::rows).sum();
    let values = parts.into_iter().flat_map(Stored::into_f32).collect();
    Ok(Stored::F32 { rows, cols, values })
}

/// One decoder layer's weights on the device, q/k/v and gate/up each stacked into one matrix.
pub(crate) struct LayerBuffers {
    pub input_norm: Buffer,
    pub qkv: Matrix,
    pub qkv_bias: Option<Buffer>,
    pub o: Matrix,
    pub post_norm: Buffer,
    pub gate_up: Matrix,
    pub down: Matrix,
    /// A mask-gated model's low-rank updates of the layer's projections.
    pub adapter: Option<AdapterBuffers>,
}

/// A mask-gated low-rank update of a (fused) projection on the device: `a` stacks its parts' A matrices, each
/// rank padded with zero rows to a multiple of 4 (the matmul reads its input four columns at a time), and `b`
/// holds their B matrices block-diagonally, so one pair of matmuls, `x·aᵀ` then `·bᵀ`, updates every part.
pub(crate) struct LowRankBuffers {
    pub a: Matrix,
    pub b: Matrix,
    /// Columns of the intermediate `x·aᵀ` (the padded ranks together).
    pub width: u32,
}

impl LowRankBuffers {
    fn upload(gpu: &Gpu, label: &str, parts: &[&LowRank]) -> Self {
        let inner = parts[0].a.len() / parts[0].rank;
        let padded: Vec<usize> = parts.iter().map(|p| p.rank.next_multiple_of(4)).collect();
        let outers: Vec<usize> = parts.iter().map(|p| p.b.len() / p.rank).collect();
        let (width, height) = (padded.iter().sum::<usize>(), outers.iter().sum::<usize>());
        let (mut a, mut b) = (vec![0.0f32; width * inner], vec![0.0f32; height * width]);
        let (mut column, mut row) = (0, 0);
        for ((part, pad), outer) in parts.iter().zip(padded).zip(outers) {
            a[column * inner..(column + part.rank) * inner].copy_from_slice(&part.a);
            for (o, b_row) in part.b.chunks_exact(part.rank).enumerate() {
                b[(row + o) * width + column..][..part.rank].copy_from_slice(b_row);
            }
            (column, row) = (column + pad, row + outer);
        }
        LowRankBuffers {
            a: Matrix::upload(gpu, &format!("{label} A"), &Stored::F32 { rows: width, cols: inner, values: a }),
            b: Matrix::upload(gpu, &format!("{label} B"), &Stored::F32 { rows: height, cols: width, values: b }),
            width: width as u32,
        }
    }
}

/// One layer's low-rank updates, fused as its projections are.
pub(crate) struct AdapterBuffers {
    pub qkv: LowRankBuffers,
    pub o: LowRankBuffers,
    pub gate_up: LowRankBuffers,
    pub down: LowRankBuffers,
}

impl AdapterBuffers {
    fn upload(gpu: &Gpu, layer: usize, t: &LayerAdapter) -> Self {
        let label = |what: &str| format!("layer {layer} {what} adapter");
        AdapterBuffers {
            qkv: LowRankBuffers::upload(gpu, &label("qkv"), &[&t.q, &t.k, &t.v]),
            o: LowRankBuffers::upload(gpu, &label("o"), &[&t.o]),
            gate_up: LowRankBuffers::upload(gpu, &label("gate_up"), &[&t.gate, &t.up]),
            down: LowRankBuffers::upload(gpu, &label("down"), &[&t.down]),
        }
    }

    /// The widest intermediate of the four.
    pub fn width(&self) -> u32 {
        [&self.qkv, &self.o, &self.gate_up, &self.down].iter().map(|u| u.width).max().unwrap_or(0)
    }
}

/// Every weight of a decoder on the device.
pub(crate) struct DecoderBuffers {
    pub layers: Vec<LayerBuffers>,
    pub embed: Matrix,
    pub final_norm: Buffer,
    /// `None` when the head is tied to the embedding.
    pub head: Option<Matrix>,
    /// What mask rows read instead of the embedding (a mask-gated model).
    pub mask_embedding: Option<Buffer>,
    /// Bytes of the matrices (what `unmask bench` reports as the weights' size).
    pub bytes: u64,
}

impl DecoderBuffers {
    /// Uploads the weights, inside an error scope so that running out of device memory is an error, not a panic.
    pub async fn upload(gpu: &Gpu, tensors: DecoderTensors<Stored>) -> Result<Self, GpuError> {
        gpu.guarded(|| -> Result<_, GpuError> {
            let vector = |label: &str, values: &[f32]| storage(gpu, label, bytemuck::cast_slice(values));
            let mut layers = Vec::new();
            for (l, t) in tensors.layers.into_iter().enumerate() {
                let label = |what: &str| format!("layer {l} {what}");
                let qkv = stack(vec![t.q, t.k, t.v])?;
                let gate_up = stack(vec![t.gate, t.up])?;
                let adapter = t.adapter.as_ref().map(|a| AdapterBuffers::upload(gpu, l, a));
                layers.push(LayerBuffers {
                    input_norm: vector("input norm", &t.input_norm),
                    qkv: Matrix::upload(gpu, &label("qkv"), &qkv),
                    qkv_bias: t.qkv_bias.map(|b| vector("qkv bias", &[b.q, b.k, b.v].concat())),
                    o: Matrix::upload(gpu, &label("o"), &t.o),
                    post_norm: vector("post norm", &t.post_norm),
                    gate_up: Matrix::upload(gpu, &label("gate_up"), &gate_up),
                    down: Matrix::upload(gpu, &label("down"), &t.down),
                    adapter,
                });
            }
            let embed = Matrix::upload(gpu, "embedding", &tensors.embed);
            let final_norm = vector("final norm", &tensors.final_norm);
            let head = tensors.head.map(|head| Matrix::upload(gpu, "head", &head));
            let mask_embedding = tensors.mask_embedding.map(|e| vector("mask embedding", &e));
            let mut matrices: Vec<&Matrix> = vec![&embed];
            matrices.extend(&head);
            for layer in &layers {
                matrices.extend([&layer.qkv, &layer.o, &layer.gate_up, &layer.down]);
                for update in layer.adapter.iter().flat_map(|a| [&a.qkv, &a.o, &a.gate_up, &a.down]) {
                    matrices.extend([&update.a, &update.b]);
                }
            }
            let bytes = matrices.iter().flat_map(|m| &m.chunks).map(|ch| ch.words.size() + ch.scales.size()).sum();
            Ok(DecoderBuffers { layers, embed, final_norm, head, mask_embedding, bytes })
        })
        .await?
    }
}

/// Rows `first_row .. first_row + rows` of a matrix, in one buffer.
pub(crate) struct Chunk {
    pub first_row: u32,
    pub rows: u32,
    pub words: Buffer,
    /// f16 scales, two per word, or for q4a a (scale, minimum) pair per word (a 4-byte placeholder for f32
    /// matrices).
    pub scales: Buffer,
}

pub(crate) struct Matrix {
    pub scheme: Scheme,
    pub cols: u32,
    pub group_size: u32,
    pub chunks: Vec<Chunk>,
}

impl Matrix {
    pub fn upload(gpu: &Gpu, name: &str, host: &Stored) -> Matrix {
        let (rows, cols) = (host.rows(), host.cols());
        let (scheme, group_size, words_per_row): (Scheme, usize, usize) = match host {
            Stored::F32 { .. } => (Scheme::F32, 1, cols),
            Stored::Quant(q) => (
                match q.scheme {
                    QuantScheme::Q8 => Scheme::Q8,
                    QuantScheme::Q4 => Scheme::Q4,
                    QuantScheme::Q4A => Scheme::Q4A,
                },
                q.group_size,
                cols / q.scheme.values_per_word(),
            ),
        };
        // Rows per buffer: within the binding limit, and a multiple of 64 so chunk boundaries stay aligned.
        let limit = gpu.limits.max_storage_buffer_binding_size.min(gpu.limits.max_buffer_size) as usize;
        let rows_per_chunk = ((limit / (words_per_row * 4).max(1)) / 64 * 64).max(64).min(rows.max(1));
        let mut chunks = Vec::new();
        let mut first = 0;
        while first < rows {
            let n = rows_per_chunk.min(rows - first);
            let label = format!("{name}[{first}..{}]", first + n);
            let (words, scales): (&[u8], Vec<u8>) = match host {
                Stored::F32 { values: data, .. } => {
                    (bytemuck::cast_slice(&data[first * cols..(first + n) * cols]), vec![0; 4])
                }
                Stored::Quant(q) => {
                    let groups = cols / q.group_size;
                    let range = first * groups..(first + n) * groups;
                    let mut scales: Vec<u16> = match q.scheme.has_mins() {
                        // One word per group: the scale in the low half, the minimum in the high half.
                        true => {
                            q.scales[range.clone()].iter().zip(&q.mins[range]).flat_map(|(&s, &m)| [s, m]).collect()
                        }
                        false => q.scales[range].to_vec(),
                    };
                    if !scales.len().is_multiple_of(2) {
                        scales.push(0);
                    }
                    (
                        bytemuck::cast_slice(&q.words[first * words_per_row..(first + n) * words_per_row]),
                        bytemuck::cast_slice(&scales).to_vec(),
                    )
                }
            };
            chunks.push(Chunk {
                first_row: first as u32,
                rows: n as u32,
                words: storage(gpu, &label, words),
                scales: storage(gpu, &format!("{label}.scales"), &scales),
            });
            first += n;
        }
        Matrix { scheme, cols: cols as u32, group_size: group_size as u32, chunks }
    }
}

/// A read-only storage buffer holding `bytes` (at least 4 bytes: empty bindings are invalid).
pub(crate) fn storage(gpu: &Gpu, label: &str, bytes: &[u8]) -> Buffer {
    let padded;
    let contents = if bytes.len() < 4 {
        padded = [0u8; 4];
        &padded[..]
    } else {
        bytes
    };
    gpu.buffer_with(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    })
}
