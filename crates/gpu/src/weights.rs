//! Weights on the device: matrices in f32, q8 or q4, split by rows into several buffers when one would
//! exceed the device's largest storage binding.

use unmask_model::Stored;
use unmask_model::quant::QuantScheme;
use wgpu::util::DeviceExt;

use crate::kernels::Scheme;
use crate::{Gpu, GpuError};

/// Stacks matrices with the same columns and format row-wise (q, k and v into one projection).
pub(crate) fn stack(parts: Vec<Stored>) -> Result<Stored, GpuError> {
    let mut parts = parts.into_iter();
    let mut stacked = parts.next().ok_or_else(|| GpuError::Model("nothing to stack".into()))?;
    for part in parts {
        match (&mut stacked, part) {
            (Stored::F32 { rows, cols, values }, Stored::F32 { rows: r, cols: c, values: more }) if *cols == c => {
                *rows += r;
                values.extend(more);
            }
            (Stored::Quant(a), Stored::Quant(b))
                if (a.scheme, a.group_size, a.cols) == (b.scheme, b.group_size, b.cols) =>
            {
                a.rows += b.rows;
                a.words.extend(b.words);
                a.scales.extend(b.scales);
            }
            _ => {
                return Err(GpuError::Model(
                    "the q/k/v (or gate/up) projections are stored in different formats or group sizes".into(),
                ));
            }
        }
    }
    Ok(stacked)
}

/// Rows `first_row .. first_row + rows` of a matrix, in one buffer.
pub(crate) struct Chunk {
    pub first_row: u32,
    pub rows: u32,
    pub words: wgpu::Buffer,
    /// f16 scales, two per word (a 4-byte placeholder for f32 matrices).
    pub scales: wgpu::Buffer,
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
                    let mut scales: Vec<u16> = q.scales[first * groups..(first + n) * groups].to_vec();
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
pub(crate) fn storage(gpu: &Gpu, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    let padded;
    let contents = if bytes.len() < 4 {
        padded = [0u8; 4];
        &padded[..]
    } else {
        bytes
    };
    gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    })
}
