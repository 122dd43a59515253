//! The forward pass as a list of ops, built once at load time. Each op is one dispatch with its bind group
//! prebuilt and its own slot of the parameter buffer; what it computes in a given pass (how many rows, from
//! which) is a function of the pass's [`Shape`]. [`OpBuilder`] has one constructor per kind of op, which knows
//! the op's kernel, its bindings in the order its `.wgsl` declares them, and its parameters, so the decoder
//! reads as the list of ops it is ([`OpBuilder::layer`]), like the reference's layer loop.

use unmask_model::{AttentionKind, ModelConfig};

use crate::kernels::{AttentionDispatch, Dispatch, Kernel, Kernels, Tiles};
use crate::params::{ACCUMULATE, ADD_BIAS, FILL_MASK_ROWS, MatmulParams, PARAM_BYTES, RuleParams, ZERO_TOKEN_ROWS};
use crate::weights::{DecoderBuffers, LayerBuffers, LowRankBuffers, Matrix};
use crate::{Buffer, Gpu};

/// What changes between forward passes; every dispatch's parameters are a function of it.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub seq: u32,
    /// The first canvas row computed; the rows before it are the cache's.
    pub first: u32,
    /// Rows whose logits are computed (the masked positions' logit rows).
    pub rows: u32,
    /// The proposal kernel's rule (the step keys are per row, in a buffer).
    pub rule: RuleParams,
}

type PlanFn = Box<dyn Fn(&Shape) -> Option<Dispatch>>;

/// Which rows of its input a matmul runs over in a given forward pass.
#[derive(Clone, Copy)]
pub(crate) enum Rows {
    /// Every canvas position.
    Canvas,
    /// Up to `len` of the gathered logit rows, from `first` on (one chunk of the head).
    Chunk { first: u32, len: u32 },
}

impl Rows {
    fn count(self, shape: &Shape) -> u32 {
        match self {
            Rows::Canvas => shape.seq - shape.first,
            Rows::Chunk { first, len } => shape.rows.saturating_sub(first).min(len),
        }
    }
}

pub(crate) struct Op {
    /// What the op computes, for profiles.
    pub label: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group: wgpu::BindGroup,
    pub slot: usize,
    pub plan: PlanFn,
}

/// The inputs and outputs of a step, which the host writes and reads.
pub(crate) struct Activations {
    pub tokens: Buffer,
    /// Per canvas row: where it sits in its own canvas ([`crate::params::CanvasRow`]).
    pub canvas_rows: Buffer,
    /// The canvas rows whose logits are computed.
    pub rows: Buffer,
    /// Per logit row: what keys its randomness ([`crate::params::RowKey`]).
    pub row_keys: Buffer,
    pub out: Buffer,
    pub staging: Buffer,
    pub logits: Buffer,
}

/// The buffers a forward pass works in, between its ops.
pub(crate) struct Scratch {
    /// The residual stream.
    pub x: Buffer,
    pub normed: Buffer,
    /// q|k|v rows after RoPE, shared by the layers when there is no cache.
    pub shared_qkv: Buffer,
    /// With the cache, each layer's own q|k|v rows (kept between steps).
    pub layer_qkv: Vec<Buffer>,
    pub attended: Buffer,
    pub gate_up: Buffer,
    pub swiglu: Buffer,
    /// The final norm of the logit rows, gathered.
    pub selected: Buffer,
    pub rope: Buffer,
    /// A mask-gated model's low-rank intermediate (`x·Aᵀ`, token rows zeroed).
    pub low: Buffer,
    /// Bound where a kernel's optional input is absent (a matmul without bias).
    pub unused: Buffer,
}

impl Scratch {
    /// The q|k|v rows layer `l` writes.
    fn qkv(&self, l: usize) -> &Buffer {
        self.layer_qkv.get(l).unwrap_or(&self.shared_qkv)
    }
}

pub(crate) fn whole(buffer: &wgpu::Buffer) -> wgpu::BufferBinding<'_> {
    wgpu::BufferBinding { buffer, offset: 0, size: None }
}

fn part(buffer: &wgpu::Buffer, offset: u64, size: u64) -> wgpu::BufferBinding<'_> {
    wgpu::BufferBinding { buffer, offset, size: std::num::NonZeroU64::new(size) }
}

/// One matmul op's operands: `output[:, chunk] (+)= input · chunkᵀ (+ bias)` for every row chunk of `matrix`.
struct MatmulOp<'b> {
    label: &'static str,
    input: wgpu::BufferBinding<'b>,
    x_stride: u32,
    matrix: &'b Matrix,
    bias: Option<&'b Buffer>,
    output: wgpu::BufferBinding<'b>,
    y_stride: u32,
    accumulate: bool,
    rows: Rows,
}

/// The decoder's sizes as the kernels take them.
#[derive(Clone, Copy)]
struct Dims {
    hidden: u32,
    intermediate: u32,
    q_width: u32,
    qkv_width: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    vocab: u32,
    eps: f32,
    kind: AttentionKind,
}

/// Builds ops over one model's buffers, giving each its own slot of the parameter buffer.
pub(crate) struct OpBuilder<'a> {
    gpu: &'a Gpu,
    params: &'a wgpu::Buffer,
    slot_bytes: u64,
    /// Slots handed out so far.
    pub slots: usize,
    kernels: &'a Kernels,
    tiles: Tiles,
    io: &'a Activations,
    scratch: &'a Scratch,
    dims: Dims,
}

impl<'a> OpBuilder<'a> {
    pub fn new(
        gpu: &'a Gpu,
        config: &ModelConfig,
        kernels: &'a Kernels,
        (params, slot_bytes): (&'a wgpu::Buffer, u64),
        io: &'a Activations,
        scratch: &'a Scratch,
    ) -> Self {
        let c = config;
        let (q_width, kv_width) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let dims = Dims {
            hidden: c.hidden_size as u32,
            intermediate: c.intermediate_size as u32,
            q_width: q_width as u32,
            qkv_width: (q_width + 2 * kv_width) as u32,
            heads: c.num_attention_heads as u32,
            kv_heads: c.num_key_value_heads as u32,
            head_dim: c.head_dim as u32,
            vocab: c.vocab_size as u32,
            eps: c.rms_norm_eps as f32,
            kind: c.attention,
        };
        OpBuilder { gpu, params, slot_bytes, slots: 0, kernels, tiles: kernels.tiles, io, scratch, dims }
    }

    fn op(&mut self, label: &'static str, kernel: &Kernel, buffers: &[wgpu::BufferBinding<'_>], plan: PlanFn) -> Op {
        let slot = self.slots;
        self.slots += 1;
        let mut all = vec![wgpu::BufferBinding {
            buffer: self.params,
            offset: slot as u64 * self.slot_bytes,
            size: std::num::NonZeroU64::new(PARAM_BYTES as u64),
        }];
        all.extend_from_slice(buffers);
        Op { label, pipeline: kernel.pipeline.clone(), bind_group: kernel.bind(self.gpu, &all), slot, plan }
    }

    /// Embedding (mask rows: the mask embedding) → every layer → the final norm of the logit rows, gathered
    /// into `selected`.
    pub fn body(&mut self, weights: &DecoderBuffers) -> Vec<Op> {
        let mut ops = self.embed(&weights.embed);
        if let Some(mask_embedding) = &weights.mask_embedding {
            ops.push(self.mask_rows(&self.scratch.x, self.dims.hidden, FILL_MASK_ROWS, mask_embedding));
        }
        for (l, layer) in weights.layers.iter().enumerate() {
            ops.extend(self.layer(layer, self.scratch.qkv(l)));
        }
        ops.push(self.rms_norm(&self.scratch.x, &weights.final_norm, &self.scratch.selected, true));
        ops
    }

    /// One decoder layer: norm → q|k|v → RoPE → attention → o (+ residual) → norm → gate|up → SwiGLU → down
    /// (+ residual); in a mask-gated model each projection followed by its low-rank update of the mask rows.
    fn layer(&mut self, layer: &LayerBuffers, qkv: &Buffer) -> Vec<Op> {
        let (s, d) = (self.scratch, self.dims);
        let adapter = layer.adapter.as_ref();
        let mut ops = vec![self.rms_norm(&s.x, &layer.input_norm, &s.normed, false)];
        ops.extend(self.matmul(MatmulOp {
            label: "matmul qkv",
            input: whole(&s.normed),
            x_stride: d.hidden,
            matrix: &layer.qkv,
            bias: layer.qkv_bias.as_ref(),
            output: whole(qkv),
            y_stride: d.qkv_width,
            accumulate: false,
            rows: Rows::Canvas,
        }));
        if let Some(a) = adapter {
            ops.extend(self.low_rank("adapter qkv", &a.qkv, (&s.normed, d.hidden), (qkv, d.qkv_width)));
        }
        ops.push(self.rope(qkv));
        ops.push(self.attention(qkv));
        ops.extend(self.matmul(MatmulOp {
            label: "matmul o",
            input: whole(&s.attended),
            x_stride: d.q_width,
            matrix: &layer.o,
            bias: None,
            output: whole(&s.x),
            y_stride: d.hidden,
            accumulate: true,
            rows: Rows::Canvas,
        }));
        if let Some(a) = adapter {
            ops.extend(self.low_rank("adapter o", &a.o, (&s.attended, d.q_width), (&s.x, d.hidden)));
        }
        ops.push(self.rms_norm(&s.x, &layer.post_norm, &s.normed, false));
        ops.extend(self.matmul(MatmulOp {
            label: "matmul gate|up",
            input: whole(&s.normed),
            x_stride: d.hidden,
            matrix: &layer.gate_up,
            bias: None,
            output: whole(&s.gate_up),
            y_stride: 2 * d.intermediate,
            accumulate: false,
            rows: Rows::Canvas,
        }));
        if let Some(a) = adapter {
            let gate_up = (&s.gate_up, 2 * d.intermediate);
            ops.extend(self.low_rank("adapter gate|up", &a.gate_up, (&s.normed, d.hidden), gate_up));
        }
        ops.push(self.swiglu());
        ops.extend(self.matmul(MatmulOp {
            label: "matmul down",
            input: whole(&s.swiglu),
            x_stride: d.intermediate,
            matrix: &layer.down,
            bias: None,
            output: whole(&s.x),
            y_stride: d.hidden,
            accumulate: true,
            rows: Rows::Canvas,
        }));
        if let Some(a) = adapter {
            ops.extend(self.low_rank("adapter down", &a.down, (&s.swiglu, d.intermediate), (&s.x, d.hidden)));
        }
        ops
    }

    /// A mask-gated low-rank update, `output += (input · aᵀ, token rows zeroed) · bᵀ`: mask rows get `B·A·x`,
    /// token rows exactly nothing. Input and output are (buffer, row stride).
    fn low_rank(
        &mut self,
        label: &'static str,
        update: &LowRankBuffers,
        (input, x_stride): (&Buffer, u32),
        (output, y_stride): (&Buffer, u32),
    ) -> Vec<Op> {
        let (low, width) = (&self.scratch.low, update.width);
        let mut ops = self.matmul(MatmulOp {
            label,
            input: whole(input),
            x_stride,
            matrix: &update.a,
            bias: None,
            output: whole(low),
            y_stride: width,
            accumulate: false,
            rows: Rows::Canvas,
        });
        ops.push(self.mask_rows(low, width, ZERO_TOKEN_ROWS, &self.scratch.unused));
        ops.extend(self.matmul(MatmulOp {
            label,
            input: whole(low),
            x_stride: width,
            matrix: &update.b,
            bias: None,
            output: whole(output),
            y_stride,
            accumulate: true,
            rows: Rows::Canvas,
        }));
        ops
    }

    /// The step's canvas rows of `out` (`width` wide), by whether they hold the mask token (`mode`).
    fn mask_rows(&mut self, out: &Buffer, width: u32, mode: u32, vector: &Buffer) -> Op {
        let tiles = self.tiles;
        self.op(
            "mask rows",
            &self.kernels.mask_rows,
            &[whole(&self.io.canvas_rows), whole(vector), whole(out)],
            Box::new(move |shape| {
                (shape.seq > shape.first).then(|| tiles.mask_rows(shape.seq, shape.first, width, mode))
            }),
        )
    }

    /// Per chunk of `rows_per_chunk` logit rows: the head's matmuls into `logits`, and the proposal kernel.
    pub fn head(&mut self, head: &Matrix, rows_per_chunk: usize, row_chunks: usize) -> (Vec<Vec<Op>>, Vec<Op>) {
        let (s, d) = (self.scratch, self.dims);
        let chunk_rows = rows_per_chunk as u32;
        (0..row_chunks as u32)
            .map(|chunk| {
                let first = chunk * chunk_rows;
                let rows = Rows::Chunk { first, len: chunk_rows };
                let bytes = |rows: u32| (rows * d.hidden) as u64 * 4;
                let matmuls = self.matmul(MatmulOp {
                    label: "matmul head",
                    input: part(&s.selected, bytes(first), bytes(chunk_rows)),
                    x_stride: d.hidden,
                    matrix: head,
                    bias: None,
                    output: whole(&self.io.logits),
                    y_stride: d.vocab,
                    accumulate: false,
                    rows,
                });
                (matmuls, self.propose(rows))
            })
            .unzip()
    }

    fn embed(&mut self, embed: &Matrix) -> Vec<Op> {
        let (tiles, hidden) = (self.tiles, self.dims.hidden);
        let kernel = &self.kernels.embed[embed.scheme as usize];
        embed
            .chunks
            .iter()
            .map(|ch| {
                let (first, n, gs) = (ch.first_row, ch.rows, embed.group_size);
                self.op(
                    "embed",
                    kernel,
                    &[whole(&self.io.tokens), whole(&ch.words), whole(&ch.scales), whole(&self.scratch.x)],
                    Box::new(move |shape| {
                        (shape.seq > shape.first).then(|| tiles.embed(shape.seq, shape.first, hidden, first, n, gs))
                    }),
                )
            })
            .collect()
    }

    /// RMSNorm of the step's canvas rows, or with `gather`, of the logit rows into consecutive output rows.
    fn rms_norm(&mut self, input: &Buffer, weight: &Buffer, output: &Buffer, gather: bool) -> Op {
        let (tiles, hidden, eps) = (self.tiles, self.dims.hidden, self.dims.eps);
        self.op(
            "rms_norm",
            &self.kernels.rms_norm,
            &[whole(input), whole(weight), whole(&self.io.rows), whole(output)],
            Box::new(move |shape| {
                let (rows, first) = if gather { (shape.rows, 0) } else { (shape.seq - shape.first, shape.first) };
                (rows > 0).then(|| tiles.rms_norm(rows, first, hidden, eps, gather))
            }),
        )
    }

    fn matmul(&mut self, mm: MatmulOp<'_>) -> Vec<Op> {
        let tiles = self.tiles;
        let kernel = &self.kernels.matmul[mm.matrix.scheme as usize];
        let flags = if mm.bias.is_some() { ADD_BIAS } else { 0 } | if mm.accumulate { ACCUMULATE } else { 0 };
        let (x_stride, y_stride, rows, cols, gs) =
            (mm.x_stride, mm.y_stride, mm.rows, mm.matrix.cols, mm.matrix.group_size);
        mm.matrix
            .chunks
            .iter()
            .map(|ch| {
                let (n, offset) = (ch.rows, ch.first_row);
                let unused = &self.scratch.unused;
                self.op(
                    mm.label,
                    kernel,
                    &[
                        mm.input.clone(),
                        whole(&ch.words),
                        whole(&ch.scales),
                        whole(mm.bias.unwrap_or(unused)),
                        mm.output.clone(),
                    ],
                    Box::new(move |shape| {
                        let m = rows.count(shape);
                        // Canvas rows start at the step's first row; logit rows are packed from 0.
                        let first = if matches!(rows, Rows::Canvas) { shape.first } else { 0 };
                        (m > 0).then(|| {
                            tiles.matmul(MatmulParams {
                                m,
                                n,
                                k: cols,
                                group_size: gs,
                                x_stride,
                                y_stride,
                                y_offset: offset + first * y_stride,
                                flags,
                                x_offset: first * x_stride,
                                bias_offset: offset,
                            })
                        })
                    }),
                )
            })
            .collect()
    }

    fn rope(&mut self, qkv: &Buffer) -> Op {
        let (tiles, d) = (self.tiles, self.dims);
        self.op(
            "rope",
            &self.kernels.rope,
            &[whole(&self.scratch.rope), whole(&self.io.canvas_rows), whole(qkv)],
            Box::new(move |shape| {
                (shape.seq > shape.first)
                    .then(|| tiles.rope(shape.seq, shape.first, d.heads + d.kv_heads, d.head_dim, d.qkv_width))
            }),
        )
    }

    fn attention(&mut self, qkv: &Buffer) -> Op {
        let (tiles, d) = (self.tiles, self.dims);
        self.op(
            "attention",
            &self.kernels.attention,
            &[whole(qkv), whole(&self.io.canvas_rows), whole(&self.scratch.attended)],
            Box::new(move |shape| {
                (shape.seq > shape.first).then(|| {
                    tiles.attention(AttentionDispatch {
                        seq: shape.seq,
                        first: shape.first,
                        kind: d.kind,
                        heads: d.heads,
                        kv_heads: d.kv_heads,
                        head_dim: d.head_dim,
                        qkv_stride: d.qkv_width,
                        out_stride: d.q_width,
                    })
                })
            }),
        )
    }

    fn swiglu(&mut self) -> Op {
        let (tiles, width) = (self.tiles, self.dims.intermediate);
        self.op(
            "swiglu",
            &self.kernels.swiglu,
            &[whole(&self.scratch.gate_up), whole(&self.scratch.swiglu)],
            Box::new(move |shape| {
                (shape.seq > shape.first).then(|| tiles.swiglu(shape.seq - shape.first, shape.first, width))
            }),
        )
    }

    /// The proposals of one chunk of logit rows.
    fn propose(&mut self, rows: Rows) -> Op {
        let (tiles, vocab) = (self.tiles, self.dims.vocab);
        let Rows::Chunk { first, .. } = rows else { unreachable!("proposals are made per chunk of logit rows") };
        self.op(
            "propose",
            &self.kernels.propose,
            &[whole(&self.io.logits), whole(&self.io.row_keys), whole(&self.io.out)],
            Box::new(move |shape| {
                let count = rows.count(shape);
                (count > 0).then(|| tiles.propose(vocab, count, first, shape.rule))
            }),
        )
    }
}
