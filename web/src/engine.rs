//! The page's two engines behind one async `propose`: the WGSL engine on WebGPU, and the CPU engine in a Web
//! Worker (so the UI thread never runs a forward pass). Which one runs is decided by measuring both
//! ([`Engines::choose`]); the other stays loaded, so a lost GPU device falls back at once.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use unmask_cpu::CpuModel;
use unmask_gpu::{AdapterSummary, Gpu, GpuError, GpuModel, GpuOptions};
use unmask_model::{ModelConfig, Weights};
use unmask_sampler::{Proposal, ProposalRule, StepKey, candidates, propose_from_logits};

use crate::worker::WorkerEngine;

/// How many candidates a token's tooltip lists.
pub const CANDIDATES: usize = 5;

/// A proposal and the candidates the model weighed at its position, most likely first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub proposal: Proposal,
    pub candidates: Vec<(u32, f32)>,
}

/// One denoising step's model work on the CPU reference engine (what the worker runs).
pub fn propose_on_cpu(
    model: &CpuModel,
    canvas: &[u32],
    positions: &[u32],
    rule: &ProposalRule,
    key: StepKey,
) -> Result<Vec<Scored>, String> {
    let hidden = model.hidden_states(canvas, None).map_err(|e| e.to_string())?;
    let rows: Vec<usize> = positions.iter().map(|&q| model.config().logits_row(q as usize)).collect();
    let logits = model.logits_of_rows(&hidden, &rows);
    let vocab = model.config().vocab_size;
    Ok(positions
        .iter()
        .zip(logits.chunks_exact(vocab))
        .map(|(&q, row)| Scored {
            proposal: propose_from_logits(row, q, rule, key),
            candidates: candidates(row, rule, CANDIDATES),
        })
        .collect())
}

/// Which engine a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Gpu,
    Cpu,
}

impl EngineKind {
    /// The badge's `data-engine`.
    pub fn id(self) -> &'static str {
        match self {
            EngineKind::Gpu => "webgpu",
            EngineKind::Cpu => "cpu",
        }
    }
}

/// The WGSL engine and the adapter it runs on.
pub struct GpuEngine {
    pub model: GpuModel,
    pub adapter: AdapterSummary,
}

impl GpuEngine {
    /// Loads the model on the browser's WebGPU adapter, if there is one.
    pub async fn load(config: &ModelConfig, weights: &Weights) -> Result<GpuEngine, String> {
        let gpu = Gpu::new().await.map_err(|e| match e {
            GpuError::NoAdapter(_) => "this browser offers no WebGPU adapter".to_owned(),
            other => other.to_string(),
        })?;
        let adapter = gpu.summary();
        let options = GpuOptions { max_len: config.max_position_embeddings, ..GpuOptions::default() };
        let model = GpuModel::load(Arc::new(gpu), config, weights, options).await.map_err(|e| e.to_string())?;
        Ok(GpuEngine { model, adapter })
    }
}

/// Why a step failed, and whether the GPU is gone (then the page falls back to the worker).
#[derive(Clone, Debug)]
pub struct StepError {
    pub message: String,
    pub device_lost: bool,
}

/// The engines the page has loaded and the one in use.
/// Shared by the page and the running step (an `Rc`): the choice lives in cells, so switching engines never
/// conflicts with a step that is awaiting one.
pub struct Engines {
    pub gpu: Option<GpuEngine>,
    pub cpu: Option<WorkerEngine>,
    active: Cell<EngineKind>,
    /// Why `active` was chosen, in words for the badge.
    reason: RefCell<String>,
}

impl Engines {
    pub fn new(gpu: Option<GpuEngine>, cpu: Option<WorkerEngine>) -> Engines {
        let active = if gpu.is_some() { EngineKind::Gpu } else { EngineKind::Cpu };
        Engines { gpu, cpu, active: Cell::new(active), reason: RefCell::default() }
    }

    pub fn active(&self) -> EngineKind {
        self.active.get()
    }

    pub fn reason(&self) -> String {
        self.reason.borrow().clone()
    }

    pub fn set_active(&self, kind: EngineKind, reason: String) {
        self.active.set(kind);
        *self.reason.borrow_mut() = reason;
    }

    pub async fn propose(
        &self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Scored>, StepError> {
        match self.active.get() {
            EngineKind::Gpu => {
                let gpu = self
                    .gpu
                    .as_ref()
                    .ok_or_else(|| StepError { message: "no GPU engine".into(), device_lost: true })?;
                let proposals =
                    gpu.model.propose_with_candidates(canvas, positions, rule, key).await.map_err(|e| StepError {
                        device_lost: matches!(e, GpuError::DeviceLost(_) | GpuError::OutOfMemory(_)),
                        message: e.to_string(),
                    })?;
                Ok(proposals.into_iter().map(|p| Scored { proposal: p.proposal, candidates: p.candidates }).collect())
            }
            EngineKind::Cpu => {
                let cpu = self
                    .cpu
                    .as_ref()
                    .ok_or_else(|| StepError { message: "no CPU engine".into(), device_lost: false })?;
                cpu.propose(canvas, positions, rule, key)
                    .await
                    .map_err(|message| StepError { message, device_lost: false })
            }
        }
    }

    pub fn has(&self, kind: EngineKind) -> bool {
        match kind {
            EngineKind::Gpu => self.gpu.is_some(),
            EngineKind::Cpu => self.cpu.is_some(),
        }
    }

    /// Picks the engine for `choice`; on `Auto`, the one whose measured step (`gpu_ms`, `cpu_ms`) was faster.
    pub fn choose(&self, choice: crate::settings::BackendChoice, gpu_ms: Option<f64>, cpu_ms: Option<f64>) {
        use crate::settings::BackendChoice;
        let measured = |ms: Option<f64>| ms.map_or("failed".to_owned(), |ms| format!("{ms:.0} ms"));
        let timing = format!("one step measured: WebGPU {}, CPU worker {}", measured(gpu_ms), measured(cpu_ms));
        let (active, reason) = match (choice, self.gpu.is_some(), self.cpu.is_some()) {
            (BackendChoice::Gpu, true, _) => (EngineKind::Gpu, "chosen by you".into()),
            (BackendChoice::Cpu, _, true) => (EngineKind::Cpu, "chosen by you".into()),
            (BackendChoice::Gpu, false, _) => (EngineKind::Cpu, "WebGPU is not available here".into()),
            (_, true, false) => (EngineKind::Gpu, "the CPU worker did not start".into()),
            (_, false, _) => (EngineKind::Cpu, "WebGPU is not available here".into()),
            (_, true, true) => match (gpu_ms, cpu_ms) {
                (Some(g), Some(c)) if g < c => (EngineKind::Gpu, format!("faster here ({timing})")),
                (Some(_), None) => (EngineKind::Gpu, timing),
                _ => (EngineKind::Cpu, format!("faster here ({timing})")),
            },
        };
        self.set_active(active, reason);
    }

    /// The badge's text: which engine runs, on what.
    pub fn describe(&self) -> String {
        match self.active.get() {
            EngineKind::Gpu => match &self.gpu {
                Some(g) => {
                    let a = &g.adapter;
                    format!(
                        "WebGPU · {}{} · {} MiB max binding, {} invocations/workgroup",
                        if a.name.is_empty() { "unnamed adapter" } else { &a.name },
                        if a.is_software { " (software adapter)" } else { "" },
                        a.max_storage_binding >> 20,
                        a.max_invocations
                    )
                }
                None => "WebGPU".into(),
            },
            EngineKind::Cpu => "CPU · reference engine in a Web Worker (1 thread)".into(),
        }
    }
}
