//! Compute pipelines, built once per device with explicit bind-group layouts, and their tile sizes chosen
//! from the adapter's limits (the shaders' `override` constants).

use unmask_model::AttentionKind;

use crate::Gpu;
use crate::params::{
    AttentionParams, EmbedParams, MaskRowsParams, MatmulParams, PARAM_BYTES, ProposeParams, RmsNormParams, RopeParams,
    RuleParams, SwigluParams, slot,
};
use crate::shaders::{self, Shader};

/// What a binding of a kernel is.
#[derive(Clone, Copy)]
pub(crate) enum Access {
    Uniform,
    Read,
    Write,
}

/// One pipeline and the layout its bind groups follow.
#[derive(Clone)]
pub(crate) struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Kernel {
    fn new(gpu: &Gpu, shader: Shader, bindings: &[Access], constants: &[(&str, f64)]) -> Self {
        Self::with_entry(gpu, shader, "main", bindings, constants)
    }

    fn with_entry(gpu: &Gpu, shader: Shader, entry: &str, bindings: &[Access], constants: &[(&str, f64)]) -> Self {
        let device = &gpu.device;
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .enumerate()
            .map(|(i, access)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match access {
                        Access::Uniform => wgpu::BufferBindingType::Uniform,
                        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Access::Write => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(shader.name), entries: &entries });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(shader.name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(shader.name),
            source: wgpu::ShaderSource::Wgsl(shader.source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(shader.name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        Self { pipeline, layout }
    }

    /// A bind group of `buffers`, in binding order.
    pub fn bind(&self, gpu: &Gpu, buffers: &[wgpu::BufferBinding<'_>]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: wgpu::BindingResource::Buffer(b.clone()),
            })
            .collect();
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &entries,
        })
    }
}

/// Weight storage of a matrix: the `SCHEME` override of matmul.wgsl and embed.wgsl.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    F32 = 0,
    Q8 = 1,
    Q4 = 2,
    Q4A = 3,
}

/// Which variants of the kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSet {
    /// Hardware GPUs: matmul tiles staged in workgroup memory, wide reductions.
    Gpu,
    /// CPU-emulated adapters (lavapipe, SwiftShader), where workgroup memory is plain memory and every
    /// barrier switches between all invocations of a workgroup: matmuls read storage directly and reductions
    /// use small workgroups.
    Emulated,
}

impl KernelSet {
    /// The set that suits the adapter.
    pub fn for_adapter(gpu: &Gpu) -> Self {
        if gpu.summary().is_software { KernelSet::Emulated } else { KernelSet::Gpu }
    }
}

/// Tile and workgroup sizes for this device.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tiles {
    pub set: KernelSet,
    /// Invocations per side of a matmul workgroup.
    pub matmul_side: u32,
    /// Rows and columns of y per matmul invocation (4 × 4 for `main`, 8 × 8 for `main_direct`).
    pub matmul_block: u32,
    pub matmul_k: u32,
    /// Queries per attention workgroup of `main`.
    pub attention_queries: u32,
    /// Whether attention runs `main_blocked` (blocks of 16 queries, one invocation per dimension) instead.
    pub attention_blocked: bool,
    pub attention_keys: u32,
    pub rows: u32,
    pub propose: u32,
}

impl Tiles {
    pub fn for_limits(limits: &wgpu::Limits, head_dim: usize, set: KernelSet) -> Self {
        let invocations = limits.max_compute_invocations_per_workgroup.min(limits.max_compute_workgroup_size_x);
        let matmul_side = if invocations >= 256 { 16 } else { 8 };
        // Keys and values of a tile: KEY_TILE · head_dim floats each.
        let key_bytes = (head_dim * 4 * 2) as u32;
        let attention_keys = (limits.max_compute_workgroup_storage_size / key_bytes.max(1)).clamp(1, 64);
        // The largest power of two not above the limit, at most 256.
        let widest = if set == KernelSet::Emulated { 64 } else { 256 };
        let propose = 1u32 << (31 - invocations.min(widest).leading_zeros());
        Self {
            set,
            matmul_side,
            matmul_block: if set == KernelSet::Emulated { 8 } else { 4 },
            matmul_k: 16,
            attention_queries: invocations.min(64),
            // The blocked kernel's workgroup is one invocation per dimension, and at least one per query row.
            attention_blocked: set == KernelSet::Emulated && head_dim >= 16,
            attention_keys,
            rows: invocations.min(64),
            propose,
        }
    }
}

/// Every pipeline the engine dispatches.
#[derive(Clone)]
pub(crate) struct Kernels {
    pub tiles: Tiles,
    /// Indexed by [`Scheme`].
    pub matmul: [Kernel; 4],
    pub embed: [Kernel; 4],
    pub rms_norm: Kernel,
    pub rope: Kernel,
    pub attention: Kernel,
    pub swiglu: Kernel,
    pub propose: Kernel,
    pub mask_rows: Kernel,
}

impl Kernels {
    /// The pipelines for `head_dim` and `set` on `gpu`, made the first time they are asked for and kept by
    /// the device: every model loaded there shares them (making a pipeline is most of a load's time on a
    /// software adapter).
    pub fn new(gpu: &Gpu, head_dim: usize, set: KernelSet) -> Self {
        let mut made = gpu.kernels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, kernels)) = made.iter().find(|(d, s, _)| (*d, *s) == (head_dim, set)) {
            return kernels.clone();
        }
        let kernels = Self::make(gpu, head_dim, set);
        made.push((head_dim, set, kernels.clone()));
        kernels
    }

    fn make(gpu: &Gpu, head_dim: usize, set: KernelSet) -> Self {
        use Access::{Read, Uniform, Write};
        let tiles = Tiles::for_limits(&gpu.limits, head_dim, set);
        let side = tiles.matmul_side as f64;
        let matmul = |scheme: Scheme| {
            let entry = match set {
                KernelSet::Emulated => "main_direct",
                KernelSet::Gpu => "main",
            };
            Kernel::with_entry(
                gpu,
                shaders::MATMUL,
                entry,
                &[Uniform, Read, Read, Read, Read, Write],
                &[("SCHEME", scheme as u32 as f64), ("WG_N", side), ("WG_M", side), ("TILE_K", tiles.matmul_k as f64)],
            )
        };
        let rows = [("WORKGROUP", tiles.rows as f64)];
        let embed = |scheme: Scheme| {
            Kernel::new(
                gpu,
                shaders::EMBED,
                &[Uniform, Read, Read, Read, Write],
                &[("SCHEME", scheme as u32 as f64), rows[0]],
            )
        };
        Self {
            matmul: [matmul(Scheme::F32), matmul(Scheme::Q8), matmul(Scheme::Q4), matmul(Scheme::Q4A)],
            embed: [embed(Scheme::F32), embed(Scheme::Q8), embed(Scheme::Q4), embed(Scheme::Q4A)],
            rms_norm: Kernel::with_entry(
                gpu,
                shaders::RMS_NORM,
                match set {
                    KernelSet::Emulated => "main_rows",
                    KernelSet::Gpu => "main",
                },
                &[Uniform, Read, Read, Read, Write],
                &rows,
            ),
            rope: Kernel::new(gpu, shaders::ROPE, &[Uniform, Read, Read, Write], &rows),
            attention: Kernel::with_entry(
                gpu,
                shaders::ATTENTION,
                if tiles.attention_blocked { "main_blocked" } else { "main" },
                &[Uniform, Read, Read, Write],
                &[
                    ("QUERIES", tiles.attention_queries as f64),
                    ("KEY_TILE", tiles.attention_keys as f64),
                    ("HEAD_DIM", head_dim as f64),
                ],
            ),
            swiglu: Kernel::new(gpu, shaders::SWIGLU, &[Uniform, Read, Write], &rows),
            mask_rows: Kernel::new(gpu, shaders::MASK_ROWS, &[Uniform, Read, Read, Write], &rows),
            propose: Kernel::new(
                gpu,
                shaders::PROPOSE,
                &[Uniform, Read, Read, Write],
                &[("WORKGROUP", tiles.propose as f64)],
            ),
            tiles,
        }
    }
}

/// One dispatch: the kernel's parameter block in its uniform slot, and its workgroup counts.
pub(crate) struct Dispatch {
    pub params: [u32; PARAM_BYTES / 4],
    pub groups: [u32; 3],
}

/// The shape of one attention dispatch (attention.wgsl's `Params`, but for the scale it derives).
#[derive(Clone, Copy, Debug)]
pub struct AttentionDispatch {
    pub seq: u32,
    pub first: u32,
    pub kind: AttentionKind,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub qkv_stride: u32,
    pub out_stride: u32,
}

/// attention.wgsl's `QUERY_BLOCK`: queries per `main_blocked` workgroup.
const BLOCKED_QUERIES: u32 = 16;

/// The parameters and grid of each kernel: the one place that knows the shaders' `Params` layouts.
impl Tiles {
    pub fn matmul(&self, params: MatmulParams) -> Dispatch {
        let side = self.matmul_side * self.matmul_block;
        Dispatch { params: slot(params), groups: [params.n.div_ceil(side), params.m.div_ceil(side), 1] }
    }

    /// Tokens `first..seq` of the canvas, looked up in the table's rows `first_row..first_row + rows`.
    pub fn embed(&self, seq: u32, first: u32, width: u32, first_row: u32, rows: u32, group_size: u32) -> Dispatch {
        let params = slot(EmbedParams { seq, width, first_row, n: rows, group_size, first });
        Dispatch { params, groups: grid((seq - first) * width, self.rows) }
    }

    /// `rows` rows from `first` on, or (gather) the rows the logit-row list names, `first` then 0.
    pub fn rms_norm(&self, rows: u32, first: u32, width: u32, eps: f32, gather: bool) -> Dispatch {
        let groups = match self.set {
            KernelSet::Emulated => grid(rows, self.rows),
            KernelSet::Gpu => grid(rows, 1),
        };
        Dispatch { params: slot(RmsNormParams { rows, width, eps, gather: u32::from(gather), first }), groups }
    }

    /// Rows `first..seq`.
    pub fn rope(&self, seq: u32, first: u32, heads: u32, head_dim: u32, row_stride: u32) -> Dispatch {
        Dispatch {
            params: slot(RopeParams { seq, heads, head_dim, row_stride, first }),
            groups: grid((seq - first) * heads * (head_dim / 2), self.rows),
        }
    }

    /// Attention over a canvas of `seq` rows for query rows `first..seq` under `kind`'s mask.
    pub fn attention(&self, shape: AttentionDispatch) -> Dispatch {
        let AttentionDispatch { seq, first, kind, heads, kv_heads, head_dim, qkv_stride, out_stride } = shape;
        let scale = 1.0 / (head_dim as f32).sqrt();
        let queries = seq - first.min(seq);
        Dispatch {
            params: slot(AttentionParams {
                seq,
                heads,
                kv_heads,
                head_dim,
                qkv_stride,
                out_stride,
                scale,
                first,
                block: kind.kernel_block(false),
                mask_block: kind.kernel_block(true),
            }),
            groups: [
                queries.div_ceil(if self.attention_blocked { BLOCKED_QUERIES } else { self.attention_queries }),
                heads,
                1,
            ],
        }
    }

    /// `rows` rows from `first` on.
    pub fn swiglu(&self, rows: u32, first: u32, width: u32) -> Dispatch {
        Dispatch { params: slot(SwigluParams { rows, width, first }), groups: grid(rows * width, self.rows) }
    }

    /// Rows `first .. seq` of a `width`-wide buffer, by whether they hold the mask token (`mode`).
    pub fn mask_rows(&self, seq: u32, first: u32, width: u32, mode: u32) -> Dispatch {
        let params = slot(MaskRowsParams { seq, first, width, mode });
        Dispatch { params, groups: grid((seq - first) * width, self.rows) }
    }

    pub fn propose(&self, vocab: u32, rows: u32, first_row: u32, rule: RuleParams) -> Dispatch {
        Dispatch { params: slot(ProposeParams { vocab, rows, first_row, rule }), groups: [rows, 1, 1] }
    }
}

/// rope.wgsl's table: `(cos, sin)` of `position · theta^(−2i/head_dim)` for every position below `positions`
/// and every `i < head_dim / 2`, computed in f64 like the CPU reference and rounded once.
pub(crate) fn rope_table(positions: usize, head_dim: usize, theta: f64) -> Vec<f32> {
    let half = head_dim / 2;
    (0..positions)
        .flat_map(|pos| {
            (0..half).flat_map(move |i| {
                let freq = 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64);
                let (sin, cos) = (pos as f64 * freq).sin_cos();
                [cos as f32, sin as f32]
            })
        })
        .collect()
}

/// Workgroup counts for `threads` invocations of `workgroup` each, folding into y beyond the 65 535 limit
/// (the elementwise kernels recover the index as x + y · groups_x · workgroup).
pub(crate) fn grid(threads: u32, workgroup: u32) -> [u32; 3] {
    let groups = threads.div_ceil(workgroup).max(1);
    if groups <= 65_535 { [groups, 1, 1] } else { [65_535, groups.div_ceil(65_535), 1] }
}
