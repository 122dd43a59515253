//! The model on the device: weights uploaded once, activations allocated once for the longest canvas, and
//! a fixed plan of dispatches per forward pass whose bind groups are built at load time. A denoising step
//! writes the canvas and a few hundred bytes of parameters, records one command encoder, and reads back
//! twelve words per masked position. A batch of canvases runs as one pass over their rows stacked one after
//! another (as many as fit the allocated rows): RoPE and attention read where each row sits in its own canvas,
//! and every other kernel is row by row already.

use std::sync::Arc;

use unmask_model::quant::QuantScheme;
use unmask_model::{DecoderTensors, ModelConfig, Weights};
use unmask_sampler::{BatchItem, Proposal, ProposalRule, ScoreKind, Scored, StepKey, TokenDraw};

use crate::kernels::{KernelSet, Kernels, rope_table};
use crate::params::{CanvasRow, PARAM_BYTES, RowKey, RuleParams};
use crate::plan::{Activations, Op, OpBuilder, Scratch, Shape};
use crate::weights::{DecoderBuffers, Matrix};
use crate::{Buffer, Gpu, GpuError};

/// How to load a model onto the device.
#[derive(Clone, Copy, Debug)]
pub struct GpuOptions {
    /// Quantize float weights to this scheme while loading (already quantized files load as they are).
    pub quant: Option<QuantScheme>,
    pub group_size: usize,
    /// The longest canvas the engine allocates for (capped by the model's context).
    pub max_len: usize,
    /// Rows one forward pass holds, for batches: the canvases of a batch stack up to this many rows per pass
    /// (more take several passes). `None`: `max_len`, one canvas of the longest length.
    pub batch_rows: Option<usize>,
    /// Kernel variants; `None` picks what suits the adapter ([`KernelSet::for_adapter`]).
    pub kernels: Option<KernelSet>,
    /// Causal and block-causal models: keep every layer's q|k|v rows and the residual rows between steps and
    /// compute only from the first block that changed (exact: earlier rows never see later ones). Costs one
    /// q|k|v buffer per layer instead of one in all.
    pub kv_cache: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        Self {
            quant: None,
            group_size: unmask_model::quant::DEFAULT_GROUP_SIZE,
            max_len: 1024,
            batch_rows: None,
            kernels: None,
            kv_cache: true,
        }
    }
}

/// Words per row of the proposal kernel's output (propose.wgsl): token, score, then a (token, probability)
/// pair per candidate; the kernel keeps the sampler's `CANDIDATES` (five).
pub(crate) const OUT_WORDS: usize = 2 + 2 * unmask_sampler::CANDIDATES;

/// The buffers only the prebuilt bind groups use. The model holds them, so that it owns every buffer it
/// allocated (and [`crate::live_buffers`] counts them) until it is dropped.
struct Bound {
    _weights: DecoderBuffers,
    _scratch: Scratch,
}

/// A model loaded on a device, ready to run denoising steps.
pub struct GpuModel {
    gpu: Arc<Gpu>,
    config: ModelConfig,
    max_len: usize,
    /// Rows one forward pass holds (at least `max_len`): the activations are allocated for this many.
    rows: usize,
    /// Logit rows per head dispatch (the logits buffer holds this many rows).
    rows_per_chunk: usize,
    params: Buffer,
    slot_bytes: u64,
    slots: usize,
    /// Embedding → layers → final norm of the gathered rows.
    body: Vec<Op>,
    /// Per chunk of logit rows: the head's matmuls, then the proposal kernel.
    head: Vec<Vec<Op>>,
    propose: Vec<Op>,
    buffers: Activations,
    weight_bytes: u64,
    _bound: Bound,
    /// With a KV cache: the canvas whose rows the buffers hold (empty: nothing reusable).
    cache: Option<std::sync::Mutex<Vec<u32>>>,
}

impl GpuModel {
    /// Uploads the weights and builds every pipeline and bind group: the limits checked, the weights
    /// uploaded, the buffers allocated, then the body's ops planned and the head's.
    pub async fn load(
        gpu: Arc<Gpu>,
        config: &ModelConfig,
        weights: &Weights,
        options: GpuOptions,
    ) -> Result<Self, GpuError> {
        let sizes = Sizes::check(&gpu, config, &options)?;
        let tensors = DecoderTensors::load(config, weights, |name, stored| {
            stored
                .quantized_to(options.quant, options.group_size)
                .map_err(|error| GpuError::Quantize { name: name.to_owned(), error })
        })?;
        let weights = DecoderBuffers::upload(&gpu, tensors).await?;
        let kernels =
            Kernels::new(&gpu, config.head_dim, options.kernels.unwrap_or_else(|| KernelSet::for_adapter(&gpu)));
        let (io, scratch, params, slot_bytes) = allocate(&gpu, config, &sizes, &weights).await?;

        let mut ops = OpBuilder::new(&gpu, config, &kernels, (&params, slot_bytes), &io, &scratch);
        let body = ops.body(&weights);
        let head_matrix = weights.head.as_ref().unwrap_or(&weights.embed);
        let (head, propose) = ops.head(head_matrix, sizes.rows_per_chunk, sizes.row_chunks);
        let slots = ops.slots;
        gpu.check()?;
        Ok(Self {
            config: config.clone(),
            max_len: sizes.max_len,
            rows: sizes.rows,
            rows_per_chunk: sizes.rows_per_chunk,
            params,
            slot_bytes,
            slots,
            body,
            head,
            propose,
            buffers: io,
            weight_bytes: weights.bytes,
            _bound: Bound { _weights: weights, _scratch: scratch },
            cache: sizes.cached.then(|| std::sync::Mutex::new(Vec::new())),
            gpu,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The longest canvas this engine was allocated for.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Bytes of weights on the device.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    fn check_canvas(&self, canvas: &[u32]) -> Result<(), GpuError> {
        Ok(unmask_model::check_canvas(canvas, self.config.vocab_size, self.max_len)?)
    }

    /// Checks one step's request: its canvas, and positions on it.
    fn check_item(&self, item: &BatchItem<'_>) -> Result<(), GpuError> {
        self.check_canvas(item.canvas)?;
        Ok(unmask_model::check_positions(item.positions.iter().map(|&q| q as usize), item.canvas.len())?)
    }

    /// The first row this step must compute: 0, or with the cache the first row the attention's reuse rule
    /// ([`reusable_rows`](unmask_model::AttentionKind::reusable_rows)) cannot keep where `canvas` departs from
    /// the canvas the buffers hold. Empties the cache until [`keep_cache`](Self::keep_cache) says
    /// the step completed, so a failed step never leaves rows that look reusable.
    fn take_cache(&self, canvas: &[u32]) -> usize {
        let Some(cache) = &self.cache else { return 0 };
        let held = std::mem::take(&mut *cache.lock().unwrap_or_else(|e| e.into_inner()));
        let unchanged = held.iter().zip(canvas).take_while(|(a, b)| a == b).count();
        self.config.attention.reusable_rows(canvas, unchanged, self.config.mask_token_id)
    }

    /// Records that the buffers now hold every row of `canvas`.
    fn keep_cache(&self, canvas: &[u32]) {
        if let Some(cache) = &self.cache {
            *cache.lock().unwrap_or_else(|e| e.into_inner()) = canvas.to_vec();
        }
    }

    /// Writes the inputs and every active op's parameters.
    fn prepare(&self, stack: &Stack, shape: &Shape) {
        let queue = &self.gpu.queue;
        queue.write_buffer(&self.buffers.tokens, 0, bytemuck::cast_slice(&stack.tokens));
        queue.write_buffer(&self.buffers.canvas_rows, 0, bytemuck::cast_slice(&stack.canvas_rows));
        if !stack.logit_rows.is_empty() {
            queue.write_buffer(&self.buffers.rows, 0, bytemuck::cast_slice(&stack.logit_rows));
            queue.write_buffer(&self.buffers.row_keys, 0, bytemuck::cast_slice(&stack.row_keys));
        }
        let mut bytes = vec![0u8; self.slots * self.slot_bytes as usize];
        let all = self.body.iter().chain(self.head.iter().flatten()).chain(&self.propose);
        for op in all {
            if let Some(d) = (op.plan)(shape) {
                let at = op.slot * self.slot_bytes as usize;
                bytes[at..at + PARAM_BYTES].copy_from_slice(bytemuck::cast_slice(&d.params));
            }
        }
        queue.write_buffer(&self.params, 0, &bytes);
    }

    fn record<'a>(pass: &mut wgpu::ComputePass<'_>, ops: impl IntoIterator<Item = &'a Op>, shape: &Shape) {
        for op in ops {
            if let Some(d) = (op.plan)(shape) {
                pass.set_pipeline(&op.pipeline);
                pass.set_bind_group(0, &op.bind_group, &[]);
                pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
            }
        }
    }

    /// One denoising step's model work: a forward pass over `canvas` and a proposal for every masked
    /// position in `positions` (increasing), with its five most likely candidates.
    pub async fn propose_with_candidates(
        &self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Scored>, GpuError> {
        let item = BatchItem { canvas, positions, rule: *rule, key };
        Ok(self.propose_batch_with_candidates(&[item]).await?.pop().expect("one canvas in, one out"))
    }

    /// [`propose_with_candidates`](Self::propose_with_candidates) for several canvases, one list per item in
    /// item order. Consecutive items that share a rule and fit the allocated rows together run as one forward
    /// pass; each item's answer is what it gets alone.
    pub async fn propose_batch_with_candidates(&self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<Scored>>, GpuError> {
        unmask_sampler::check_batch(items.len())?;
        self.gpu.check()?;
        let mut canvases = Vec::with_capacity(items.len());
        for item in items {
            self.check_item(item)?;
            canvases.push(&item.canvas[..self.config.rows_needed(item.canvas, item.positions)]);
        }
        let mut answers = Vec::with_capacity(items.len());
        let mut start = 0;
        while start < items.len() {
            let mut end = start + 1;
            let mut rows = canvases[start].len();
            while end < items.len() && items[end].rule == items[start].rule && rows + canvases[end].len() <= self.rows {
                rows += canvases[end].len();
                end += 1;
            }
            answers.extend(self.pass(&items[start..end], &canvases[start..end]).await?);
            start = end;
        }
        Ok(answers)
    }

    /// One forward pass over `canvases` (checked, together within the allocated rows, one rule) and the
    /// proposals of each item's positions.
    async fn pass(&self, items: &[BatchItem<'_>], canvases: &[&[u32]]) -> Result<Vec<Vec<Scored>>, GpuError> {
        // The cache holds one canvas's rows: a canvas alone may reuse them, a batch computes every row.
        let alone = canvases.len() == 1;
        let first = if alone { self.take_cache(canvases[0]) } else { self.take_cache(&[]) } as u32;
        let stack = Stack::of(items, canvases, &self.config);
        let shape = Shape {
            seq: stack.tokens.len() as u32,
            first,
            rows: stack.logit_rows.len() as u32,
            rule: rule_params(&items[0].rule),
        };
        if stack.logit_rows.is_empty() {
            return Ok(vec![Vec::new(); items.len()]);
        }
        self.prepare(&stack, &shape);
        let mut encoder =
            self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("step") });
        {
            let mut pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("step"), timestamp_writes: None });
            Self::record(&mut pass, &self.body, &shape);
            for (head, propose) in self.head.iter().zip(&self.propose) {
                Self::record(&mut pass, head.iter().chain(std::iter::once(propose)), &shape);
            }
        }
        let bytes = (stack.logit_rows.len() * OUT_WORDS * 4) as u64;
        encoder.copy_buffer_to_buffer(&self.buffers.out, 0, &self.buffers.staging, 0, bytes);
        self.gpu.queue.submit([encoder.finish()]);
        let raw = self.gpu.read(&self.buffers.staging, bytes).await?;
        if alone {
            self.keep_cache(canvases[0]);
        }
        let mut words: &[u32] = bytemuck::cast_slice(&raw);
        Ok(items
            .iter()
            .map(|item| {
                let (mine, rest) = words.split_at(item.positions.len() * OUT_WORDS);
                words = rest;
                decode_proposals(item.positions, mine)
            })
            .collect())
    }

    /// Milliseconds per op label for one step, each dispatch submitted and waited for on its own, timed by
    /// `now_ms` (the caller's clock: `Instant` natively, `performance.now()` in the browser). Serialising
    /// adds per-submit overhead: read the shares, not the total.
    pub async fn profile(
        &self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
        now_ms: impl Fn() -> f64,
    ) -> Result<Vec<(&'static str, f64)>, GpuError> {
        let item = BatchItem { canvas, positions, rule: *rule, key };
        self.gpu.check()?;
        self.check_item(&item)?;
        self.take_cache(&[]);
        let stack = Stack::of(&[item], &[canvas], &self.config);
        let shape = Shape { seq: canvas.len() as u32, first: 0, rows: positions.len() as u32, rule: rule_params(rule) };
        self.prepare(&stack, &shape);
        self.gpu.idle().await?;
        let mut totals: Vec<(&'static str, f64)> = Vec::new();
        let ops = self.body.iter().chain(self.head.iter().zip(&self.propose).flat_map(|(h, p)| h.iter().chain([p])));
        for op in ops {
            let started = now_ms();
            let mut encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                Self::record(&mut pass, [op], &shape);
            }
            self.gpu.queue.submit([encoder.finish()]);
            self.gpu.idle().await?;
            let ms = now_ms() - started;
            match totals.iter_mut().find(|(label, _)| *label == op.label) {
                Some((_, total)) => *total += ms,
                None => totals.push((op.label, ms)),
            }
        }
        Ok(totals)
    }

    /// Raw (unshifted) logits of every position, `[seq, vocab]`, like `CpuModel::logits`. For tests and
    /// tools: it reads back a vocabulary-sized row per position, which a denoising step never does.
    pub async fn logits(&self, tokens: &[u32]) -> Result<Vec<f32>, GpuError> {
        self.gpu.check()?;
        self.check_canvas(tokens)?;
        let v = self.config.vocab_size;
        let rows: Vec<u32> = (0..tokens.len() as u32).collect();
        // A full pass: whatever the cache held is overwritten, and it is left empty.
        self.take_cache(&[]);
        let shape =
            Shape { seq: tokens.len() as u32, first: 0, rows: rows.len() as u32, rule: bytemuck::Zeroable::zeroed() };
        let stack = Stack {
            tokens: tokens.to_vec(),
            canvas_rows: CanvasRow::stacked(&[tokens], self.config.mask_token_id),
            logit_rows: rows,
            row_keys: vec![bytemuck::Zeroable::zeroed(); tokens.len()],
        };
        self.prepare(&stack, &shape);
        let total = (tokens.len() * v * 4) as u64;
        let readback = self.gpu.buffer(&wgpu::BufferDescriptor {
            label: Some("logits readback"),
            size: total,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder =
            self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("logits") });
        {
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            Self::record(&mut pass, &self.body, &shape);
        }
        for (chunk, head) in self.head.iter().enumerate() {
            let first = chunk * self.rows_per_chunk;
            if first >= tokens.len() {
                break;
            }
            {
                let mut pass =
                    encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
                Self::record(&mut pass, head, &shape);
            }
            let rows = self.rows_per_chunk.min(tokens.len() - first);
            encoder.copy_buffer_to_buffer(
                &self.buffers.logits,
                0,
                &readback,
                (first * v * 4) as u64,
                (rows * v * 4) as u64,
            );
        }
        self.gpu.queue.submit([encoder.finish()]);
        let raw = self.gpu.read(&readback, total).await?;
        Ok(bytemuck::cast_slice(&raw).to_vec())
    }
}

/// Proposals from the proposal kernel's output words (propose.wgsl `out`).
pub(crate) fn decode_proposals(positions: &[u32], words: &[u32]) -> Vec<Scored> {
    positions
        .iter()
        .zip(words.chunks_exact(OUT_WORDS))
        .map(|(&position, w)| Scored {
            proposal: Proposal { position, token: w[0], score: f32::from_bits(w[1]) },
            candidates: w[2..]
                .chunks_exact(2)
                .filter(|pair| pair[0] != u32::MAX)
                .map(|pair| (pair[0], f32::from_bits(pair[1])))
                .collect(),
        })
        .collect()
}

/// One forward pass's inputs: the canvases' tokens stacked one after another, where each row sits in its
/// canvas, the rows whose logits are computed and what keys each one's randomness.
struct Stack {
    tokens: Vec<u32>,
    canvas_rows: Vec<CanvasRow>,
    logit_rows: Vec<u32>,
    row_keys: Vec<RowKey>,
}

impl Stack {
    /// The steps of `items`, over their canvases as `canvases` cuts them, stacked in item order.
    fn of(items: &[BatchItem<'_>], canvases: &[&[u32]], config: &ModelConfig) -> Stack {
        let mut stack = Stack {
            tokens: Vec::new(),
            canvas_rows: CanvasRow::stacked(canvases, config.mask_token_id),
            logit_rows: Vec::new(),
            row_keys: Vec::new(),
        };
        for (item, canvas) in items.iter().zip(canvases) {
            let start = stack.tokens.len();
            stack.tokens.extend_from_slice(canvas);
            for &q in item.positions {
                stack.logit_rows.push((start + config.logits_row(q as usize)) as u32);
                stack.row_keys.push(row_key(q, item.key));
            }
        }
        stack
    }
}

/// What keys the randomness of the proposal at canvas position `position` under step key `key`.
pub(crate) fn row_key(position: u32, key: StepKey) -> RowKey {
    RowKey { position, seed_lo: key.seed as u32, seed_hi: (key.seed >> 32) as u32, step: key.step }
}

/// The proposal kernel's view of a rule.
pub(crate) fn rule_params(rule: &ProposalRule) -> RuleParams {
    let (draw, temperature, top_p, top_k) = match rule.draw {
        TokenDraw::Sample { temperature, top_p, top_k } => (0, temperature, top_p, top_k),
        TokenDraw::Gumbel { temperature } => (1, temperature, 1.0, 0),
    };
    let score = match rule.score {
        ScoreKind::Probability => 0,
        ScoreKind::Margin => 1,
        ScoreKind::NegEntropy => 2,
        ScoreKind::Random => 3,
    };
    RuleParams { draw, temperature, top_p, top_k, score, mask_token: rule.mask_token }
}

/// How many rows a pass holds and how the head's logit rows are cut, checked against the device's limits.
struct Sizes {
    max_len: usize,
    /// Rows one forward pass holds (at least `max_len`).
    rows: usize,
    /// Logit rows per head dispatch.
    rows_per_chunk: usize,
    row_chunks: usize,
    /// Whether each layer keeps its q|k|v rows between steps.
    cached: bool,
}

impl Sizes {
    fn check(gpu: &Gpu, c: &ModelConfig, options: &GpuOptions) -> Result<Self, GpuError> {
        if !c.head_dim.is_multiple_of(4) || c.head_dim > 128 {
            return Err(GpuError::Unsupported(format!(
                "head_dim {} (the kernels need a multiple of 4, at most 128)",
                c.head_dim
            )));
        }
        let max_len = options.max_len.min(c.max_position_embeddings).max(1);
        let rows = options.batch_rows.unwrap_or(max_len).max(max_len);
        let (v, i) = (c.vocab_size, c.intermediate_size);
        let qkv_width = (c.num_attention_heads + 2 * c.num_key_value_heads) * c.head_dim;
        let binding_limit = gpu.limits.max_storage_buffer_binding_size.min(gpu.limits.max_buffer_size);
        let fit = (binding_limit.min(256 << 20) / (v as u64 * 4)) as usize / 64 * 64;
        if fit == 0 {
            return Err(GpuError::Unsupported(format!(
                "a vocabulary of {v} does not fit 64 logit rows in one binding"
            )));
        }
        let rows_per_chunk = fit.min(rows.div_ceil(64) * 64);
        let s = rows as u64;
        for (what, bytes) in
            [("the MLP activations", s * 2 * i as u64 * 4), ("the q/k/v activations", s * qkv_width as u64 * 4)]
        {
            if bytes > binding_limit {
                return Err(GpuError::Unsupported(format!(
                    "{what} of {rows} rows ({bytes} bytes) exceed this device's largest binding ({binding_limit} bytes); use a shorter maximum length or a smaller batch"
                )));
            }
        }
        let cached = options.kv_cache && c.attention.is_prefix_stable();
        Ok(Sizes { max_len, rows, rows_per_chunk, row_chunks: rows.div_ceil(rows_per_chunk), cached })
    }
}

/// Every buffer a pass uses besides the weights, and the parameter buffer with a slot for each op (its slot
/// size in bytes second). The RoPE table is written here, once.
async fn allocate(
    gpu: &Gpu,
    c: &ModelConfig,
    sizes: &Sizes,
    weights: &DecoderBuffers,
) -> Result<(Activations, Scratch, Buffer, u64), GpuError> {
    let (h, i, v) = (c.hidden_size as u64, c.intermediate_size as u64, c.vocab_size as u64);
    let q_width = (c.num_attention_heads * c.head_dim) as u64;
    let qkv_width = q_width + 2 * (c.num_key_value_heads * c.head_dim) as u64;
    let (s, chunk) = (sizes.rows as u64, sizes.rows_per_chunk as u64);
    let adapters = || weights.layers.iter().flat_map(|l| &l.adapter);
    let low_width = adapters().map(|a| a.width() as u64).max().unwrap_or(0);
    let adapter_ops: usize = adapters()
        .flat_map(|a| [&a.qkv, &a.o, &a.gate_up, &a.down])
        .map(|u| u.a.chunks.len() + u.b.chunks.len() + 1)
        .sum();
    let slot_bytes = (gpu.limits.min_uniform_buffer_offset_alignment as u64).max(PARAM_BYTES as u64);
    let (io, scratch, params) = gpu
        .guarded(|| {
            let buffer = |label: &str, bytes: u64, usage: wgpu::BufferUsages| {
                gpu.buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: bytes.max(4).next_multiple_of(4),
                    usage,
                    mapped_at_creation: false,
                })
            };
            let rw = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
            let io = Activations {
                tokens: buffer("tokens", s * 4, rw),
                canvas_rows: buffer("canvas rows", s * size_of::<CanvasRow>() as u64, rw),
                rows: buffer("logit rows", s * 4, rw),
                row_keys: buffer("row keys", s * size_of::<RowKey>() as u64, rw),
                out: buffer("proposals", s * OUT_WORDS as u64 * 4, rw),
                staging: buffer(
                    "proposals readback",
                    s * OUT_WORDS as u64 * 4,
                    wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                ),
                logits: buffer("logits", chunk * v * 4, rw),
            };
            // With the cache, each layer keeps its own q|k|v rows; without, the layers share one buffer.
            let layer_qkv = (0..weights.layers.len())
                .filter(|_| sizes.cached)
                .map(|l| buffer(&format!("layer {l} qkv"), s * qkv_width * 4, wgpu::BufferUsages::STORAGE))
                .collect();
            let scratch = Scratch {
                x: buffer("x", s * h * 4, rw),
                normed: buffer("normed", s * h * 4, rw),
                shared_qkv: buffer("qkv", if sizes.cached { 4 } else { s * qkv_width * 4 }, rw),
                layer_qkv,
                attended: buffer("attention", s * q_width * 4, rw),
                gate_up: buffer("gate|up", s * 2 * i * 4, rw),
                swiglu: buffer("swiglu", s * i * 4, rw),
                selected: buffer("selected rows", sizes.row_chunks as u64 * chunk * h * 4, rw),
                rope: buffer("rope table", s * (c.head_dim / 2) as u64 * 8, rw),
                low: buffer("low-rank", s * low_width * 4, rw),
                unused: buffer("unused", 4, rw),
            };
            // Upper bound on the ops `OpBuilder` makes, so the parameter buffer is allocated once.
            let chunks = |m: &Matrix| m.chunks.len();
            let head = weights.head.as_ref().unwrap_or(&weights.embed);
            let max_ops = chunks(&weights.embed)
                + weights
                    .layers
                    .iter()
                    .map(|l| 6 + chunks(&l.qkv) + chunks(&l.o) + chunks(&l.gate_up) + chunks(&l.down))
                    .sum::<usize>()
                + adapter_ops
                + 2
                + sizes.row_chunks * (chunks(head) + 1);
            let params = buffer(
                "dispatch parameters",
                max_ops as u64 * slot_bytes,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            );
            (io, scratch, params)
        })
        .await?;
    let table = rope_table(sizes.max_len, c.head_dim, c.rope_theta);
    gpu.queue.write_buffer(&scratch.rope, 0, bytemuck::cast_slice(&table));
    Ok((io, scratch, params, slot_bytes))
}
