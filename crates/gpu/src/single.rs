//! One kernel at a time on host data: what the per-kernel parity tests (natively and in the browser) and
//! per-operation benchmarks call. The engine never uses this path; it shares the pipelines and the
//! parameter layouts ([`Tiles`]) with it, so a test exercises exactly what a forward pass dispatches.

use std::sync::Arc;

use unmask_model::quant::QuantTensor;
use unmask_model::{AttentionKind, Stored};
use unmask_sampler::{ProposalRule, Scored, StepKey};

use crate::engine::{OUT_WORDS, decode_proposals, row_key, rule_params};
use crate::kernels::{AttentionDispatch, Dispatch, Kernel, KernelSet, Kernels, Tiles, rope_table};
use crate::params::{ACCUMULATE, ADD_BIAS, CanvasRow, MatmulParams, RowKey};
use crate::weights::Matrix;
use crate::{Buffer, Gpu, GpuError};

/// A weight matrix `[rows, cols]` for [`OpRunner::matmul`] and [`OpRunner::embed`].
pub enum WeightInput<'a> {
    F32 { rows: usize, cols: usize, data: &'a [f32] },
    Quant(&'a QuantTensor),
}

impl WeightInput<'_> {
    fn host(&self) -> Stored {
        match self {
            WeightInput::F32 { rows, cols, data } => Stored::F32 { rows: *rows, cols: *cols, values: data.to_vec() },
            WeightInput::Quant(q) => Stored::Quant((*q).clone()),
        }
    }
}

/// Runs single kernels on host data.
pub struct OpRunner {
    gpu: Arc<Gpu>,
    kernels: Kernels,
}

impl OpRunner {
    /// The kernel variants that suit the adapter, attention for heads of `head_dim`.
    pub fn new(gpu: Arc<Gpu>, head_dim: usize) -> Self {
        let set = KernelSet::for_adapter(&gpu);
        Self::with_kernels(gpu, head_dim, set)
    }

    /// A given kernel set, so tests cover both on any adapter.
    pub fn with_kernels(gpu: Arc<Gpu>, head_dim: usize, set: KernelSet) -> Self {
        let kernels = Kernels::new(&gpu, head_dim, set);
        Self { gpu, kernels }
    }

    fn tiles(&self) -> &Tiles {
        &self.kernels.tiles
    }

    fn buffer(&self, bytes: &[u8]) -> Buffer {
        let mut contents = bytes.to_vec();
        contents.resize(bytes.len().max(4).next_multiple_of(4), 0);
        self.gpu.buffer_with(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: &contents,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// Dispatches `kernel` with `inputs` bound after the parameters and `output` (initial contents) last;
    /// returns the output's final contents.
    async fn run(&self, kernel: &Kernel, d: Dispatch, inputs: &[&Buffer], output: &[u8]) -> Result<Vec<u8>, GpuError> {
        let gpu = &self.gpu;
        let params = gpu.buffer_with(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&d.params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let out = self.buffer(output);
        let mut bindings = vec![wgpu::BufferBinding { buffer: &params, offset: 0, size: None }];
        bindings.extend(inputs.iter().map(|b| wgpu::BufferBinding { buffer: b, offset: 0, size: None }));
        bindings.push(wgpu::BufferBinding { buffer: &out, offset: 0, size: None });
        let bind_group = kernel.bind(gpu, &bindings);
        let readback = gpu.buffer(&wgpu::BufferDescriptor {
            label: None,
            size: out.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
        }
        encoder.copy_buffer_to_buffer(&out, 0, &readback, 0, out.size());
        gpu.queue.submit([encoder.finish()]);
        let mut bytes = gpu.read(&readback, out.size()).await?;
        bytes.truncate(output.len());
        Ok(bytes)
    }

    async fn run_f32(
        &self,
        kernel: &Kernel,
        d: Dispatch,
        inputs: &[&Buffer],
        output: &[f32],
    ) -> Result<Vec<f32>, GpuError> {
        let bytes = self.run(kernel, d, inputs, bytemuck::cast_slice(output)).await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// `x · wᵀ (+ bias) (+ residual)`: `x` is `[m, cols]`; returns `[m, rows]`.
    pub async fn matmul(
        &self,
        x: &[f32],
        w: WeightInput<'_>,
        bias: Option<&[f32]>,
        residual: Option<&[f32]>,
    ) -> Result<Vec<f32>, GpuError> {
        let host = w.host();
        let (n, k) = (host.rows() as u32, host.cols() as u32);
        if !k.is_multiple_of(4) {
            return Err(GpuError::Unsupported(format!("matmul over {k} columns: a multiple of 4 is needed")));
        }
        let m = x.len() as u32 / k;
        let matrix = Matrix::upload(&self.gpu, "w", &host);
        let chunk = &matrix.chunks[0];
        let flags = if bias.is_some() { ADD_BIAS } else { 0 } | if residual.is_some() { ACCUMULATE } else { 0 };
        let d = self.tiles().matmul(MatmulParams {
            m,
            n,
            k,
            group_size: matrix.group_size,
            x_stride: k,
            y_stride: n,
            y_offset: 0,
            bias_offset: 0,
            flags,
            x_offset: 0,
        });
        let (x, bias) = (self.buffer(bytemuck::cast_slice(x)), self.buffer(bytemuck::cast_slice(bias.unwrap_or(&[]))));
        let initial = residual.map_or_else(|| vec![0.0; (m * n) as usize], <[f32]>::to_vec);
        let kernel = &self.kernels.matmul[matrix.scheme as usize];
        self.run_f32(kernel, d, &[&x, &chunk.words, &chunk.scales, &bias], &initial).await
    }

    /// Rows `tokens` of the table, dequantized: `[tokens.len(), cols]`.
    pub async fn embed(&self, tokens: &[u32], table: WeightInput<'_>) -> Result<Vec<f32>, GpuError> {
        let host = table.host();
        let matrix = Matrix::upload(&self.gpu, "table", &host);
        let chunk = &matrix.chunks[0];
        let width = matrix.cols;
        let d = self.tiles().embed(tokens.len() as u32, 0, width, 0, chunk.rows, matrix.group_size);
        let ids = self.buffer(bytemuck::cast_slice(tokens));
        let kernel = &self.kernels.embed[matrix.scheme as usize];
        self.run_f32(kernel, d, &[&ids, &chunk.words, &chunk.scales], &vec![0.0; tokens.len() * width as usize]).await
    }

    /// RMSNorm of rows of `x` (all rows, or `gather`'s rows in that order).
    pub async fn rms_norm(
        &self,
        x: &[f32],
        weight: &[f32],
        eps: f32,
        gather: Option<&[u32]>,
    ) -> Result<Vec<f32>, GpuError> {
        let width = weight.len();
        let rows = gather.map_or(x.len() / width, <[u32]>::len);
        let d = self.tiles().rms_norm(rows as u32, 0, width as u32, eps, gather.is_some());
        let (x, weight) = (self.buffer(bytemuck::cast_slice(x)), self.buffer(bytemuck::cast_slice(weight)));
        let indices = self.buffer(bytemuck::cast_slice(gather.unwrap_or(&[])));
        self.run_f32(&self.kernels.rms_norm, d, &[&x, &weight, &indices], &vec![0.0; rows * width]).await
    }

    /// RoPE on the first `heads` heads of each `row_stride`-wide row (the rest is left alone).
    pub async fn rope(
        &self,
        x: &[f32],
        heads: usize,
        head_dim: usize,
        row_stride: usize,
        theta: f64,
    ) -> Result<Vec<f32>, GpuError> {
        let seq = x.len() / row_stride;
        let table = rope_table(seq, head_dim, theta);
        let d = self.tiles().rope(seq as u32, 0, heads as u32, head_dim as u32, row_stride as u32);
        let table = self.buffer(bytemuck::cast_slice(&table));
        let rows = self.buffer(bytemuck::cast_slice(&CanvasRow::of_lens([seq])));
        self.run_f32(&self.kernels.rope, d, &[&table, &rows], x).await
    }

    /// Attention under `kind`'s mask over a fused `[seq, (heads + 2 kv_heads) · head_dim]` buffer, for query
    /// rows `first..`; returns `[seq, heads · head_dim]` with the rows before `first` zero.
    pub async fn attention(
        &self,
        qkv: &[f32],
        dims: (usize, usize, usize),
        kind: AttentionKind,
        first: usize,
    ) -> Result<Vec<f32>, GpuError> {
        let stride = (dims.0 + 2 * dims.1) * dims.2;
        self.attention_stacked(qkv, dims, kind, first, &[qkv.len() / stride]).await
    }

    /// [`attention`](Self::attention) over canvases of `lens` rows stacked one after another in `qkv`: each
    /// row attends within its own canvas.
    pub async fn attention_stacked(
        &self,
        qkv: &[f32],
        (heads, kv_heads, head_dim): (usize, usize, usize),
        kind: AttentionKind,
        first: usize,
        lens: &[usize],
    ) -> Result<Vec<f32>, GpuError> {
        self.attention_rows(qkv, (heads, kv_heads, head_dim), kind, first, &CanvasRow::of_lens(lens.iter().copied()))
            .await
    }

    /// [`attention`](Self::attention) of one canvas whose rows `is_mask` flags hold the mask token (what
    /// masks_see_block attends by).
    pub async fn attention_masked(
        &self,
        qkv: &[f32],
        dims: (usize, usize, usize),
        kind: AttentionKind,
        first: usize,
        is_mask: &[bool],
    ) -> Result<Vec<f32>, GpuError> {
        let canvas: Vec<u32> = is_mask.iter().map(|&m| u32::from(m)).collect();
        self.attention_rows(qkv, dims, kind, first, &CanvasRow::stacked(&[&canvas], 1)).await
    }

    async fn attention_rows(
        &self,
        qkv: &[f32],
        (heads, kv_heads, head_dim): (usize, usize, usize),
        kind: AttentionKind,
        first: usize,
        rows: &[CanvasRow],
    ) -> Result<Vec<f32>, GpuError> {
        let stride = (heads + 2 * kv_heads) * head_dim;
        let seq = qkv.len() / stride;
        assert_eq!(rows.len(), seq, "one canvas row per row of qkv");
        let d = self.tiles().attention(AttentionDispatch {
            seq: seq as u32,
            first: first as u32,
            kind,
            heads: heads as u32,
            kv_heads: kv_heads as u32,
            head_dim: head_dim as u32,
            qkv_stride: stride as u32,
            out_stride: (heads * head_dim) as u32,
        });
        let qkv = self.buffer(bytemuck::cast_slice(qkv));
        let rows = self.buffer(bytemuck::cast_slice(rows));
        self.run_f32(&self.kernels.attention, d, &[&qkv, &rows], &vec![0.0; seq * heads * head_dim]).await
    }

    /// SwiGLU of `[rows, 2 · width]` rows laid out `[gate | up]`.
    pub async fn swiglu(&self, gate_up: &[f32], width: usize) -> Result<Vec<f32>, GpuError> {
        let rows = gate_up.len() / (2 * width);
        let d = self.tiles().swiglu(rows as u32, 0, width as u32);
        let input = self.buffer(bytemuck::cast_slice(gate_up));
        self.run_f32(&self.kernels.swiglu, d, &[&input], &vec![0.0; rows * width]).await
    }

    /// The proposal kernel on logits rows `[positions.len(), vocab]`.
    pub async fn propose(
        &self,
        logits: &[f32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Scored>, GpuError> {
        let vocab = (logits.len() / positions.len()) as u32;
        let d = self.tiles().propose(vocab, positions.len() as u32, 0, rule_params(rule));
        let keys: Vec<RowKey> = positions.iter().map(|&q| row_key(q, key)).collect();
        let (logits, keys) = (self.buffer(bytemuck::cast_slice(logits)), self.buffer(bytemuck::cast_slice(&keys)));
        let out =
            self.run(&self.kernels.propose, d, &[&logits, &keys], &vec![0u8; positions.len() * OUT_WORDS * 4]).await?;
        Ok(decode_proposals(positions, bytemuck::cast_slice(&out)))
    }
}
