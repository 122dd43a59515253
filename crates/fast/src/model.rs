//! The forward pass over the engine's matrices and reused buffers.

use unmask_model::quant::DEFAULT_GROUP_SIZE;
use unmask_model::{DecoderTensors, LayerAdapter, LowRank, ModelConfig, QuantScheme, Stored, Weights};

use crate::FastError;
use crate::attention::{self, Shape};
use crate::gemm::{self, Matrix};
use crate::math;
use crate::pool::Pool;
use crate::shard::{Exchange, Shard, Split};
use crate::tile::NR;

/// How to load a model.
#[derive(Clone, Copy, Debug)]
pub struct FastOptions {
    /// Quantize float weights to this scheme (already quantized files stay as they are).
    pub quant: Option<QuantScheme>,
    pub group_size: usize,
    /// Threads (always 1 in wasm).
    pub threads: usize,
    /// The longest canvas the buffers are sized for (capped by the model's context).
    pub max_len: usize,
    /// Quantized weights only: where the CPU has int8 dot products (AVX-512 VNNI), multiply the decoder layers'
    /// matrices with activations quantized to int8 per group: faster, with an error of about 1/254 of a group's
    /// largest activation per term. The head stays exact unless `int8_everywhere`. In wasm every quantized matrix,
    /// the head included, multiplies with activations quantized to 16 bits (an error of 1/65534). `false` keeps the
    /// exact product with the dequantized weights everywhere.
    pub int8_dot: bool,
    /// Beyond `int8_dot`: a quantized head (an untied model's output matrix) and the q4a matrices (which have
    /// no int8 kernel; requantized to q8 at load) also multiply with int8 products instead of f32 panels,
    /// so a one-row (left-to-right) step, whose time is reading weights, reads about half the bytes
    /// (Qwen2.5-Coder-0.5B: 1.08 → 0.53 GB), at the cost of flipping near-ties between the best two tokens.
    pub int8_everywhere: bool,
    /// Causal and block-causal models: keep every layer's keys and values, and the residual stream, of the
    /// rows before the first changed block, and compute only the rows from there on (exact: those rows never
    /// see later ones). Costs one q|k|v buffer per layer instead of one in all.
    pub kv_cache: bool,
}

impl Default for FastOptions {
    fn default() -> Self {
        FastOptions {
            quant: None,
            group_size: DEFAULT_GROUP_SIZE,
            threads: crate::pool::default_threads(),
            max_len: 1024,
            int8_dot: true,
            int8_everywhere: false,
            kv_cache: true,
        }
    }
}

struct Layer {
    input_norm: Vec<f32>,
    /// q, k and v projections stacked (rows q | k | v), one matmul.
    qkv: Matrix,
    qkv_bias: Option<Vec<f32>>,
    o: Matrix,
    post_norm: Vec<f32>,
    /// gate and up projections in one matrix: interleaved panel by panel for `gemm::matmul_swiglu` when
    /// `fused` (the intermediate size is a multiple of the panel width), otherwise stacked (rows gate | up),
    /// the product stored whole and SwiGLU a pass of its own.
    gate_up: Matrix,
    fused: bool,
    down: Matrix,
    /// Mask-gated low-rank updates (q, k, v, o, gate, up, down), in a model that has them.
    adapter: Option<[Update; 7]>,
}

/// One projection's low-rank update as two small matrices: `low = x·Aᵀ`, then `delta = low·Bᵀ`.
struct Update {
    a: Matrix,
    b: Matrix,
}

impl Update {
    fn new(low_rank: &LowRank) -> Self {
        let (rank, inner, outer) = (low_rank.rank, low_rank.a.len() / low_rank.rank, low_rank.b.len() / low_rank.rank);
        Update { a: Matrix::f32(rank, inner, &low_rank.a), b: Matrix::f32(outer, rank, &low_rank.b) }
    }

    fn all(adapter: &LayerAdapter) -> [Update; 7] {
        let LayerAdapter { q, k, v, o, gate, up, down } = adapter;
        [q, k, v, o, gate, up, down].map(Update::new)
    }

    /// Adds `x_r·Aᵀ·Bᵀ` to columns `column..` of row `r` of `out` (rows of `out_width`) for every row `r` in
    /// `rows`; `x` has rows of `in_width`. The rows are few (a step's masks), so they are gathered first.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        x: &[f32],
        in_width: usize,
        rows: &[usize],
        out: &mut [f32],
        out_width: usize,
        column: usize,
        pool: &Pool,
    ) {
        if rows.is_empty() {
            return;
        }
        let (rank, outer) = (self.a.rows(), self.b.rows());
        let gathered: Vec<f32> = rows.iter().flat_map(|&r| &x[r * in_width..][..in_width]).copied().collect();
        let mut low = vec![0.0; rows.len() * rank];
        gemm::matmul(&gathered, &self.a, None, &mut low, pool);
        let mut delta = vec![0.0; rows.len() * outer];
        gemm::matmul(&low, &self.b, None, &mut delta, pool);
        for (&r, d) in rows.iter().zip(delta.chunks_exact(outer)) {
            out[r * out_width + column..][..outer].iter_mut().zip(d).for_each(|(o, d)| *o += d);
        }
    }
}

/// Activations of one pass, stacked over the rows it computes (each canvas's new rows, in batch order). Sized
/// at load for one canvas of `max_len` rows; a batch grows them.
#[derive(Default)]
struct Buffers {
    x: Vec<f32>,
    normed: Vec<f32>,
    /// q|k|v rows after RoPE.
    qkv: Vec<f32>,
    attended: Vec<f32>,
    projected: Vec<f32>,
    gate_up: Vec<f32>,
    activated: Vec<f32>,
    /// Each stacked row's position in its canvas.
    positions: Vec<usize>,
    /// The stacked rows that hold the mask token, in a mask-gated model (their projections get the updates).
    gated: Vec<usize>,
    /// A shard's columns of a product, before they are gathered.
    part: Vec<f32>,
}

/// A shard's exchange and, for each product, where every shard's columns lie (the same in every layer).
struct Sharded {
    shard: Shard,
    exchange: Box<dyn Exchange>,
    /// One exchange's blocks.
    scratch: Vec<f32>,
    qkv: Split,
    o: Split,
    /// Over the intermediate size when gate|up is fused with SwiGLU (the shard's product is its columns of
    /// the activation), otherwise over gate|up stacked.
    gate_up: Split,
    down: Split,
    head: Split,
}

/// Which product of a layer (or the head) a shard's columns belong to.
#[derive(Clone, Copy)]
enum Product {
    Qkv,
    O,
    GateUp,
    Down,
    Head,
}

impl Sharded {
    fn new(shard: Shard, exchange: Box<dyn Exchange>, c: &ModelConfig, fused: bool) -> Sharded {
        let (q_width, kv_width) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let split = |width: usize| Split::new(shard, width, NR);
        Sharded {
            shard,
            exchange,
            scratch: Vec::new(),
            qkv: split(q_width + 2 * kv_width),
            o: split(c.hidden_size),
            gate_up: split(if fused { c.intermediate_size } else { 2 * c.intermediate_size }),
            down: split(c.hidden_size),
            head: split(c.vocab_size),
        }
    }

    /// Runs `compute` for this shard's columns of `product` into `part`, then gathers every shard's into `out`.
    fn columns(
        &mut self,
        product: Product,
        out: &mut [f32],
        part: &mut Vec<f32>,
        compute: impl FnOnce(&mut [f32]),
    ) -> Result<(), FastError> {
        let Sharded { exchange, scratch, qkv, o, gate_up, down, head, .. } = self;
        let split = match product {
            Product::Qkv => qkv,
            Product::O => o,
            Product::GateUp => gate_up,
            Product::Down => down,
            Product::Head => head,
        };
        let len = out.len() / split.width * split.mine().len();
        grow(part, len)?;
        // A shard may hold none of a small matrix's panels: it only gathers the others' columns.
        if len > 0 {
            compute(&mut part[..len]);
        }
        split.gather(exchange.as_mut(), &part[..len], out, scratch).map_err(FastError::Shard)
    }
}

/// `compute` writes a product into `out`: directly for a whole model, through the exchange for a shard.
fn product(
    sharded: &mut Option<Sharded>,
    which: Product,
    out: &mut [f32],
    part: &mut Vec<f32>,
    compute: impl FnOnce(&mut [f32]),
) -> Result<(), FastError> {
    match sharded {
        None => {
            compute(out);
            Ok(())
        }
        Some(sharded) => sharded.columns(which, out, part, compute),
    }
}

/// What one canvas of a batch keeps between passes: its residual stream and, with the cache, every layer's
/// q|k|v rows, with the tokens they were computed from. Canvas *i* of a batch always uses slot *i*, so a
/// sampler stepping the same samples in the same order finds each one's rows from the step before.
#[derive(Default)]
struct Slot {
    x: Vec<f32>,
    qkv: Vec<Vec<f32>>,
    tokens: Vec<u32>,
}

/// Where a canvas's rows are in one pass: rows `first..seq` are computed, stacked from row `offset`.
#[derive(Clone, Copy)]
struct Span {
    first: usize,
    seq: usize,
    offset: usize,
}

/// Grows `v` to at least `len` zeros, or says how much memory was missing instead of aborting.
fn grow(v: &mut Vec<f32>, len: usize) -> Result<(), FastError> {
    if v.len() < len {
        v.try_reserve_exact(len - v.len()).map_err(|_| FastError::OutOfMemory { bytes: len * 4 })?;
        v.resize(len, 0.0);
    }
    Ok(())
}

/// A model ready to run on the CPU.
pub struct FastModel {
    config: ModelConfig,
    options: FastOptions,
    embed: Matrix,
    /// `None` when tied to the embedding.
    lm_head: Option<Matrix>,
    layers: Vec<Layer>,
    final_norm: Vec<f32>,
    /// What mask positions read instead of the mask token's embedding row, in a mask-gated model.
    mask_embedding: Option<Vec<f32>>,
    /// cos and sin of every (position, frequency), computed in f64 as the reference does.
    rope: math::RopeTable,
    buffers: Buffers,
    slots: Vec<Slot>,
    /// Causal and block-causal models with `kv_cache`: slots keep their rows between passes.
    cached: bool,
    pool: Pool,
    /// A shard of a model split over workers: its exchange and splits.
    sharded: Option<Sharded>,
}

impl FastModel {
    pub fn load(config: &ModelConfig, weights: &Weights, options: FastOptions) -> Result<Self, FastError> {
        Self::load_part(config, weights, options, None)
    }

    /// Shard `shard` of the model (see `shard.rs`): every shard is loaded from the same weights, each in its
    /// own thread or worker, and they then run every forward pass together, swapping columns through
    /// `exchange`. The first shard's proposals are the model's; the others answer none.
    pub fn load_shard(
        config: &ModelConfig,
        weights: &Weights,
        options: FastOptions,
        shard: Shard,
        exchange: Box<dyn Exchange>,
    ) -> Result<Self, FastError> {
        if shard.count == 0 || shard.index >= shard.count {
            return Err(FastError::Shard(format!("shard {} of {}", shard.index, shard.count)));
        }
        Self::load_part(config, weights, options, Some((shard, exchange)))
    }

    fn load_part(
        config: &ModelConfig,
        weights: &Weights,
        options: FastOptions,
        shard: Option<(Shard, Box<dyn Exchange>)>,
    ) -> Result<Self, FastError> {
        let c = config;
        let max_len = options.max_len.min(c.max_position_embeddings).max(1);
        let (h, inter) = (c.hidden_size, c.intermediate_size);
        let (q_width, kv_width) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let matrix = |name: &str, stored: Stored| -> Result<Matrix, FastError> {
            let stored = stored
                .quantized_to(options.quant, options.group_size)
                .map_err(|e| FastError::Quantize { name: name.to_owned(), message: e.to_string() })?;
            Ok(match stored {
                Stored::Quant(q) => Matrix::Quant(q),
                Stored::F32 { rows, cols, values } => Matrix::f32(rows, cols, &values),
            })
        };
        let tensors = DecoderTensors::load(c, weights, matrix)?;
        let prepare = |m: Matrix| if options.int8_dot { m.for_this_cpu(options.int8_everywhere) } else { m };
        // Panel-interleaved gate|up needs whole panels (and gate and up quantized alike, as converted files are);
        // a mask-gated model updates gate and up before SwiGLU, so it keeps the product whole.
        let fused = inter.is_multiple_of(NR) && c.adapter_rank.is_none();
        let sharded = shard.map(|(shard, exchange)| Sharded::new(shard, exchange, c, fused));
        // A shard keeps its rows of each matrix (the whole model keeps them all, uncopied).
        let cut = |m: Matrix, split: fn(&Sharded) -> &Split| match &sharded {
            Some(s) => m.rows_of(split(s).mine()),
            None => m,
        };
        let layers = tensors
            .layers
            .into_iter()
            .map(|l| Layer {
                input_norm: l.input_norm,
                qkv: prepare(cut(Matrix::stacked(vec![l.q, l.k, l.v], |r| r), |s| &s.qkv)),
                qkv_bias: l.qkv_bias.map(|b| {
                    let bias = [b.q, b.k, b.v].concat();
                    match &sharded {
                        Some(s) => bias[s.qkv.mine()].to_vec(),
                        None => bias,
                    }
                }),
                o: prepare(cut(l.o, |s| &s.o)),
                post_norm: l.post_norm,
                gate_up: prepare(if fused {
                    Matrix::interleave_panels(cut(l.gate, |s| &s.gate_up), cut(l.up, |s| &s.gate_up))
                } else {
                    cut(Matrix::stacked(vec![l.gate, l.up], |r| r), |s| &s.gate_up)
                }),
                fused,
                down: prepare(cut(l.down, |s| &s.down)),
                adapter: l.adapter.as_ref().map(Update::all),
            })
            .collect::<Vec<_>>();
        let rope = math::RopeTable::new(max_len, c.head_dim, c.rope_theta);
        let rows = max_len;
        let cached = options.kv_cache && c.attention.is_prefix_stable();
        let stride = q_width + 2 * kv_width;
        let buffers = Buffers {
            x: vec![0.0; rows * h],
            normed: vec![0.0; rows * h.max(inter)],
            qkv: vec![0.0; rows * stride],
            attended: vec![0.0; rows * q_width],
            projected: vec![0.0; rows * h],
            // The whole gate|up product is stored only when SwiGLU is not fused into the matmul.
            gate_up: if fused { Vec::new() } else { vec![0.0; rows * 2 * inter] },
            activated: vec![0.0; rows * inter],
            positions: vec![0; rows],
            gated: Vec::new(),
            part: Vec::new(),
        };
        // wasm has no threads to spawn (without atomics): one, whatever was asked.
        let pool = Pool::new(options.threads.max(1));
        let tied = tensors.head.is_none();
        let wasm_integer = cfg!(target_arch = "wasm32") && options.int8_dot;
        let head_form = |m: Matrix, integer: bool| if integer { m.for_this_cpu(false) } else { m.dequantized() };
        Ok(FastModel {
            config: c.clone(),
            options: FastOptions { max_len, threads: pool.threads(), ..options },
            // The head picks the tokens, so by default it multiplies exactly: int8 activations there flip
            // near-ties (SmolLM2's greedy decoding left the reference's at a logit margin of 0.08). A quantized
            // head is dequantized to f32 panels once, here, rather than decoded on every step (which doubled
            // SmolLM2's step time, and made Qwen2.5-Coder's one-row steps 5× slower); a tied head is the
            // embedding, whose lookups read the same panels. `int8_everywhere` trades the exactness for speed.
            // A shard's head is its rows of the output matrix; a tied one's lookups read the embedding as stored.
            // In wasm the head multiplies with 16-bit activations like every quantized matrix (`crate::int16`):
            // within 2e-5 of exact, where an f32 copy of Qwen2.5's 151,936 × 896 embedding would take 545 MB of
            // a browser tab's memory and be read whole on every step.
            lm_head: match (tensors.head, &sharded) {
                (Some(head), _) => Some(head_form(cut(head, |s| &s.head), options.int8_everywhere || wasm_integer)),
                (None, None) => None,
                (None, Some(s)) => Some(head_form(tensors.embed.copy_of_rows(s.head.mine()), wasm_integer)),
            },
            embed: if tied && sharded.is_none() { head_form(tensors.embed, wasm_integer) } else { tensors.embed },
            layers,
            final_norm: tensors.final_norm,
            mask_embedding: tensors.mask_embedding,
            rope,
            buffers,
            slots: Vec::new(),
            cached,
            pool,
            sharded,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn options(&self) -> FastOptions {
        self.options
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Which shard of the model this is ([`Shard::WHOLE`] unless loaded by [`load_shard`](Self::load_shard)).
    pub fn shard(&self) -> Shard {
        self.sharded.as_ref().map_or(Shard::WHOLE, |s| s.shard)
    }

    /// Bytes of weights held.
    pub fn weight_bytes(&self) -> usize {
        let layers: usize =
            self.layers.iter().map(|l| l.qkv.bytes() + l.o.bytes() + l.gate_up.bytes() + l.down.bytes()).sum();
        layers + self.embed.bytes() + self.lm_head.as_ref().map_or(0, Matrix::bytes)
    }

    /// Logits `[rows.len(), vocab]` of the given canvas rows after a forward pass over `tokens`.
    pub fn logits_of_rows(&mut self, tokens: &[u32], rows: &[usize]) -> Result<Vec<f32>, FastError> {
        self.logits_of_rows_batch(&[(tokens, rows)])
    }

    /// [`logits_of_rows`](Self::logits_of_rows) for several canvases in one forward pass: the matrix products
    /// run over every canvas's rows at once (each weight read once for the batch); attention stays inside
    /// each canvas. Canvases may differ in length. The result is one `[rows, vocab]` block per canvas, back to
    /// back in the order given (not split up: the caller walks it, and copying it would cost a pass over it).
    pub fn logits_of_rows_batch(&mut self, items: &[(&[u32], &[usize])]) -> Result<Vec<f32>, FastError> {
        let c = self.config.clone();
        unmask_sampler::check_batch(items.len()).map_err(|_| FastError::Batch { len: items.len() })?;
        for (tokens, rows) in items {
            unmask_model::check_canvas(tokens, c.vocab_size, self.options.max_len)?;
            unmask_model::check_positions(rows.iter().copied(), tokens.len())?;
        }
        let logits = self.logits_of_checked(items);
        if let (Err(_), Some(sharded)) = (&logits, &mut self.sharded) {
            // Every shard checked the same request alike; one that fails later leaves the others waiting.
            sharded.exchange.abandon();
        }
        logits
    }

    /// [`logits_of_rows_batch`](Self::logits_of_rows_batch) of a request already checked.
    fn logits_of_checked(&mut self, items: &[(&[u32], &[usize])]) -> Result<Vec<f32>, FastError> {
        let c = self.config.clone();
        let canvases: Vec<&[u32]> = items.iter().map(|(tokens, _)| *tokens).collect();
        self.forward(&canvases)?;
        let (h, vocab) = (c.hidden_size, c.vocab_size);
        // The head only for the rows asked for, of every canvas at once: it is the largest matmul.
        let asked: usize = items.iter().map(|(_, rows)| rows.len()).sum();
        let mut gathered = vec![0.0f32; asked * h];
        let sources =
            items.iter().zip(&self.slots).flat_map(|((_, rows), slot)| rows.iter().map(|&r| &slot.x[r * h..][..h]));
        for (g, x) in gathered.chunks_exact_mut(h).zip(sources) {
            g.copy_from_slice(x);
        }
        math::rms_norm_rows(&mut gathered, &self.final_norm, c.rms_norm_eps);
        let head = self.lm_head.as_ref().unwrap_or(&self.embed);
        let mut logits = vec![0.0f32; asked * vocab];
        let pool = &self.pool;
        product(&mut self.sharded, Product::Head, &mut logits, &mut self.buffers.part, |out| {
            gemm::matmul(&gathered, head, None, out, pool)
        })?;
        Ok(logits)
    }

    /// The decoder layers over each canvas, leaving canvas *i*'s residual stream in slot *i*. With the cache,
    /// rows that an earlier pass computed from the same leading tokens are kept, and only the rest computed.
    fn forward(&mut self, canvases: &[&[u32]]) -> Result<(), FastError> {
        let spans = self.spans(canvases)?;
        let total = spans.last().map_or(0, |s| s.offset + s.seq - s.first);
        if total > 0 {
            self.embed_rows(canvases, &spans, total)?;
            let c = &self.config;
            // Which canvas positions are masks: only masks_see_block attention asks.
            let is_mask: Vec<Vec<bool>> = canvases
                .iter()
                .map(|tokens| tokens.iter().map(|&t| c.attention.depends_on_masks() && t == c.mask_token_id).collect())
                .collect();
            let shapes: Vec<Shape> =
                spans.iter().map(|s| self.shape(s.seq, if self.cached { s.first } else { 0 })).collect();
            for l in 0..self.layers.len() {
                self.layer(l, &spans, &shapes, &is_mask, total)?;
            }
            let h = self.config.hidden_size;
            let b = &mut self.buffers;
            // The last layer's output is still to be added to the residual stream.
            b.x[..total * h].iter_mut().zip(&b.projected).for_each(|(x, p)| *x += p);
            for (span, slot) in spans.iter().zip(self.slots.iter_mut()) {
                let new = (span.seq - span.first) * h;
                slot.x[span.first * h..span.seq * h].copy_from_slice(&b.x[span.offset * h..][..new]);
            }
        }
        if self.cached {
            for (slot, tokens) in self.slots.iter_mut().zip(canvases) {
                slot.tokens.extend_from_slice(tokens);
            }
        }
        Ok(())
    }

    /// Where each canvas's rows go in this pass: with the cache, from the first row its slot cannot reuse.
    /// Grows the slots to the canvases' lengths.
    fn spans(&mut self, canvases: &[&[u32]]) -> Result<Vec<Span>, FastError> {
        let c = &self.config;
        let stride = self.shape(0, 0).stride();
        if self.slots.len() < canvases.len() {
            self.slots.resize_with(canvases.len(), Slot::default);
        }
        let mut spans = Vec::with_capacity(canvases.len());
        let mut total = 0;
        for (slot, tokens) in self.slots.iter_mut().zip(canvases) {
            let seq = tokens.len();
            let unchanged = slot.tokens.iter().zip(*tokens).take_while(|(a, b)| a == b).count();
            let first = if self.cached { c.attention.reusable_rows(tokens, unchanged, c.mask_token_id) } else { 0 };
            // A pass that stops half way must not leave rows that look reusable.
            slot.tokens.clear();
            grow(&mut slot.x, seq * c.hidden_size)?;
            if self.cached {
                slot.qkv.resize_with(c.num_hidden_layers, Vec::new);
                for layer in &mut slot.qkv {
                    grow(layer, seq * stride)?;
                }
            }
            spans.push(Span { first, seq, offset: total });
            total += seq - first;
        }
        Ok(spans)
    }

    /// The attention shape of a canvas of `seq` rows computed from row `first`.
    fn shape(&self, seq: usize, first: usize) -> Shape {
        let c = &self.config;
        Shape {
            seq,
            first,
            kind: c.attention,
            heads: c.num_attention_heads,
            kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim,
        }
    }

    /// Sizes the buffers for `total` stacked rows and fills their residual stream with the embeddings (a mask
    /// row of a mask-gated model: the mask embedding), noting each row's position and which rows are gated.
    fn embed_rows(&mut self, canvases: &[&[u32]], spans: &[Span], total: usize) -> Result<(), FastError> {
        let c = &self.config;
        let (h, inter) = (c.hidden_size, c.intermediate_size);
        let (stride, q_width) = (self.shape(0, 0).stride(), c.num_attention_heads * c.head_dim);
        let b = &mut self.buffers;
        for (buffer, width) in [
            (&mut b.x, h),
            (&mut b.normed, h.max(inter)),
            (&mut b.qkv, stride),
            (&mut b.attended, q_width),
            (&mut b.projected, h),
            (&mut b.activated, inter),
        ] {
            grow(buffer, total * width)?;
        }
        if !self.layers[0].fused {
            grow(&mut b.gate_up, total * 2 * inter)?;
        }
        b.positions.clear();
        b.positions.extend(spans.iter().flat_map(|s| s.first..s.seq));
        let stacked_tokens = spans.iter().zip(canvases).flat_map(|(s, tokens)| &tokens[s.first..s.seq]);
        b.gated.clear();
        if self.mask_embedding.is_some() {
            b.gated.extend(stacked_tokens.clone().enumerate().filter(|(_, t)| **t == c.mask_token_id).map(|(r, _)| r));
        }
        for (row, &t) in b.x[..total * h].chunks_exact_mut(h).zip(stacked_tokens) {
            match &self.mask_embedding {
                Some(mask) if t == c.mask_token_id => row.copy_from_slice(mask),
                _ => self.embed.row(t as usize, row),
            }
        }
        Ok(())
    }

    /// Layer `l` over the stacked rows: norm (after adding the previous layer's output to the residual
    /// stream) → q|k|v → RoPE → attention per canvas → o → norm → gate|up → SwiGLU → down, whose output
    /// stays in `projected` for the next layer (or `forward`) to add.
    fn layer(
        &mut self,
        l: usize,
        spans: &[Span],
        shapes: &[Shape],
        is_mask: &[Vec<bool>],
        total: usize,
    ) -> Result<(), FastError> {
        let FastModel { config: c, slots, buffers: b, layers, pool, rope, cached, sharded, .. } = self;
        let layer = &layers[l];
        let (h, inter, eps) = (c.hidden_size, c.intermediate_size, c.rms_norm_eps);
        let stride = shapes.first().map_or(0, |s| s.stride());
        let q_width = c.num_attention_heads * c.head_dim;
        let (x, normed) = (&mut b.x[..total * h], &mut b.normed[..total * h]);
        add_and_norm(pool, x, (l > 0).then_some(&b.projected[..total * h]), normed, &layer.input_norm, eps);
        let gated = &b.gated;
        let qkv = &mut b.qkv[..total * stride];
        let part = &mut b.part;
        product(sharded, Product::Qkv, qkv, part, |out| {
            gemm::matmul(normed, &layer.qkv, layer.qkv_bias.as_deref(), out, pool)
        })?;
        if let Some([q, k, v, ..]) = &layer.adapter {
            let kv_width = c.num_key_value_heads * c.head_dim;
            q.add(normed, h, gated, qkv, stride, 0, pool);
            k.add(normed, h, gated, qkv, stride, q_width, pool);
            v.add(normed, h, gated, qkv, stride, q_width + kv_width, pool);
        }
        let per_task = pool.rows_per_task(total);
        let blocks = qkv.chunks_mut(per_task * stride).zip(b.positions.chunks(per_task)).collect();
        pool.each(blocks, |_, (block, positions): (&mut [f32], &[usize])| {
            let heads = c.num_attention_heads + c.num_key_value_heads;
            for (row, &position) in block.chunks_exact_mut(stride).zip(positions) {
                math::rope(&mut row[..heads * c.head_dim], c.head_dim, rope, position);
            }
        });
        let attended = &mut b.attended[..total * q_width];
        for (((span, slot), is_mask), &shape) in spans.iter().zip(slots.iter_mut()).zip(is_mask).zip(shapes) {
            let new = span.seq - span.first;
            let computed = &qkv[span.offset * stride..][..new * stride];
            let out = &mut attended[span.offset * q_width..][..new * q_width];
            if *cached {
                let kept = &mut slot.qkv[l][..span.seq * stride];
                kept[span.first * stride..].copy_from_slice(computed);
                attention::attention(kept, shape, is_mask, out, pool);
            } else {
                attention::attention(computed, shape, is_mask, out, pool);
            }
        }
        let projected = &mut b.projected[..total * h];
        product(sharded, Product::O, projected, part, |out| gemm::matmul(attended, &layer.o, None, out, pool))?;
        if let Some([_, _, _, o, ..]) = &layer.adapter {
            o.add(attended, q_width, gated, projected, h, 0, pool);
        }
        add_and_norm(pool, x, Some(projected), normed, &layer.post_norm, eps);
        let activated = &mut b.activated[..total * inter];
        if layer.fused {
            product(sharded, Product::GateUp, activated, part, |out| {
                gemm::matmul_swiglu(normed, &layer.gate_up, out, pool)
            })?;
        } else {
            let gate_up = &mut b.gate_up[..total * 2 * inter];
            product(sharded, Product::GateUp, gate_up, part, |out| {
                gemm::matmul(normed, &layer.gate_up, None, out, pool)
            })?;
            if let Some([.., gate, up, _]) = &layer.adapter {
                gate.add(normed, h, gated, gate_up, 2 * inter, 0, pool);
                up.add(normed, h, gated, gate_up, 2 * inter, inter, pool);
            }
            let blocks = gate_up.chunks(per_task * 2 * inter).zip(activated.chunks_mut(per_task * inter)).collect();
            pool.each(blocks, |_, (gate_up, activated): (&[f32], &mut [f32])| {
                math::swiglu_rows(gate_up, activated, inter);
            });
        }
        product(sharded, Product::Down, projected, part, |out| gemm::matmul(activated, &layer.down, None, out, pool))?;
        if let Some([.., down]) = &layer.adapter {
            down.add(activated, inter, gated, projected, h, 0, pool);
        }
        Ok(())
    }
}

/// `x += add` (when given), then `normed = rms_norm(x)`, row blocks in parallel: the residual update
/// folded into the pass that reads the stream for the next norm.
fn add_and_norm(pool: &Pool, x: &mut [f32], add: Option<&[f32]>, normed: &mut [f32], weight: &[f32], eps: f64) {
    let width = weight.len();
    let per_task = pool.rows_per_task(x.len() / width) * width;
    let blocks: Vec<_> = x.chunks_mut(per_task).zip(normed.chunks_mut(per_task)).enumerate().collect();
    pool.each(blocks, |_, (t, (x, normed))| {
        if let Some(add) = add {
            x.iter_mut().zip(&add[t * per_task..]).for_each(|(x, a)| *x += a);
        }
        normed.copy_from_slice(x);
        math::rms_norm_rows(normed, weight, eps);
    });
}
