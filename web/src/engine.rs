//! The page's two engines behind one async `propose`: the WGSL engine on WebGPU, and the CPU engine in a Web
//! Worker (so the UI thread never runs a forward pass). Which one runs is decided at start-up ([`decide`]):
//! measured when the adapter is a real GPU, the worker when it is a software emulation. The worker stays
//! loaded either way, so a lost GPU device falls back at once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use unmask_gpu::{AdapterSummary, Gpu, GpuError, GpuModel, GpuOptions};
use unmask_model::{ModelConfig, Weights};
use unmask_sampler::{BatchItem, ProposalRule, Scored, StepKey};

use crate::settings::{BackendChoice, page_context};
use crate::worker::{WorkerEngine, WorkerError};

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
    /// Uploads the model and builds every pipeline (seconds on a software adapter).
    pub async fn load(gpu: Arc<Gpu>, config: &ModelConfig, weights: &Weights) -> Result<GpuEngine, String> {
        let adapter = gpu.summary();
        let options = GpuOptions { max_len: page_context(config), ..GpuOptions::default() };
        let model = GpuModel::load(gpu, config, weights, options).await.map_err(|e| e.to_string())?;
        Ok(GpuEngine { model, adapter })
    }
}

/// Why a step failed, on either engine.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("the model is not loaded on WebGPU")]
    GpuNotLoaded,
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("the CPU worker is not running")]
    NoWorker,
    #[error(transparent)]
    Worker(#[from] WorkerError),
}

impl StepError {
    /// Whether WebGPU is gone for this model (then the page goes on on the worker).
    pub fn device_lost(&self) -> bool {
        matches!(self, StepError::GpuNotLoaded | StepError::Gpu(GpuError::DeviceLost(_) | GpuError::OutOfMemory(_)))
    }
}

/// How far the WebGPU side has got. The model is loaded on WebGPU only when it is going to run there: on a
/// software adapter the CPU worker runs, and the slow pipeline build waits until the user asks for WebGPU.
enum GpuSlot {
    NotTried,
    Adapter(Arc<Gpu>),
    Loaded(Rc<GpuEngine>),
    Unavailable(String),
}

/// The engines the page has and the one in use. Shared by the page and the running step (an `Rc`): all
/// state is in cells, borrowed only between awaits, so switching engines never conflicts with a step that
/// is awaiting one.
pub struct Engines {
    gpu: RefCell<GpuSlot>,
    pub cpu: Option<WorkerEngine>,
    active: Cell<EngineKind>,
    /// Why `active` was chosen, in words for the badge.
    reason: RefCell<String>,
    /// Forward passes started and not yet answered (a superseded run's pass still occupies its engine).
    in_flight: Cell<u32>,
}

/// Counts one forward pass in flight for as long as it lives.
struct InFlight<'a>(&'a Cell<u32>);

impl<'a> InFlight<'a> {
    fn new(count: &'a Cell<u32>) -> Self {
        count.set(count.get() + 1);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// The browser's WebGPU adapter, or why there is none (in words for the page).
pub async fn request_gpu() -> Result<Arc<Gpu>, String> {
    let requested = if has_webgpu() { Gpu::new().await } else { Err(GpuError::NoAdapter(String::new())) };
    requested.map(Arc::new).map_err(|e| match e {
        GpuError::NoAdapter(_) => "this browser offers no WebGPU adapter".to_owned(),
        other => other.to_string(),
    })
}

impl Engines {
    /// The engines with the CPU worker (if it started) and the WebGPU adapter (if one was already requested:
    /// `None` asks for it when first needed).
    pub fn new(cpu: Option<WorkerEngine>, gpu: Option<Result<Arc<Gpu>, String>>) -> Engines {
        let gpu = match gpu {
            None => GpuSlot::NotTried,
            Some(Ok(gpu)) => GpuSlot::Adapter(gpu),
            Some(Err(why)) => GpuSlot::Unavailable(why),
        };
        Engines {
            gpu: RefCell::new(gpu),
            cpu,
            active: Cell::new(EngineKind::Cpu),
            reason: RefCell::default(),
            in_flight: Cell::new(0),
        }
    }

    /// Whether a forward pass is running on either engine.
    pub fn busy(&self) -> bool {
        self.in_flight.get() > 0
    }

    /// The browser's WebGPU adapter, requested once.
    pub async fn gpu_adapter(&self) -> Result<AdapterSummary, String> {
        let known = match &*self.gpu.borrow() {
            GpuSlot::NotTried => None,
            GpuSlot::Adapter(gpu) => Some(gpu.summary()),
            GpuSlot::Loaded(engine) => Some(engine.adapter.clone()),
            GpuSlot::Unavailable(why) => return Err(why.clone()),
        };
        if let Some(summary) = known {
            return Ok(summary);
        }
        match request_gpu().await {
            Ok(gpu) => {
                let summary = gpu.summary();
                *self.gpu.borrow_mut() = GpuSlot::Adapter(gpu);
                Ok(summary)
            }
            Err(why) => {
                *self.gpu.borrow_mut() = GpuSlot::Unavailable(why.clone());
                Err(why)
            }
        }
    }

    /// The model on WebGPU, loaded once.
    pub async fn load_gpu(&self, config: &ModelConfig, weights: &Weights) -> Result<Rc<GpuEngine>, String> {
        self.gpu_adapter().await?;
        let gpu = match &*self.gpu.borrow() {
            GpuSlot::Loaded(engine) => return Ok(engine.clone()),
            GpuSlot::Adapter(gpu) => gpu.clone(),
            GpuSlot::Unavailable(why) => return Err(why.clone()),
            GpuSlot::NotTried => unreachable!("gpu_adapter() has tried"),
        };
        match GpuEngine::load(gpu, config, weights).await {
            Ok(engine) => {
                let engine = Rc::new(engine);
                *self.gpu.borrow_mut() = GpuSlot::Loaded(engine.clone());
                Ok(engine)
            }
            Err(why) => {
                *self.gpu.borrow_mut() = GpuSlot::Unavailable(why.clone());
                Err(why)
            }
        }
    }

    fn gpu_engine(&self) -> Option<Rc<GpuEngine>> {
        match &*self.gpu.borrow() {
            GpuSlot::Loaded(engine) => Some(engine.clone()),
            _ => None,
        }
    }

    /// Destroys the WebGPU device the model runs on (the page's device-loss test); false when none is loaded.
    pub fn lose_gpu_device(&self) -> bool {
        self.gpu_engine().map(|engine| engine.model.gpu().destroy()).is_some()
    }

    /// After a lost device (or one out of memory): WebGPU is no longer offered (the Engine menu disables it), and a later run asked of
    /// it runs on the CPU worker instead of failing again on the dead device.
    pub fn mark_gpu_lost(&self, why: &str) {
        *self.gpu.borrow_mut() = GpuSlot::Unavailable(format!("WebGPU failed during a run ({why})"));
    }

    /// Whether WebGPU may still run the model (loaded, an adapter to load it on, or not asked yet).
    pub fn gpu_possible(&self) -> bool {
        !matches!(&*self.gpu.borrow(), GpuSlot::Unavailable(_))
    }

    pub fn gpu_loaded(&self) -> bool {
        self.gpu_engine().is_some()
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

    /// One step's proposals on the active engine (a GPU engine must be loaded: [`Engines::load_gpu`]).
    pub async fn propose(
        &self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Scored>, StepError> {
        let item = BatchItem { canvas, positions, rule: *rule, key };
        Ok(self.propose_batch(&[item]).await?.pop().expect("one canvas in, one out"))
    }

    /// One step of several canvases, one list of proposals per item in item order; either engine runs them
    /// as one forward pass over all their rows.
    pub async fn propose_batch(&self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<Scored>>, StepError> {
        let _counted = InFlight::new(&self.in_flight);
        match self.active.get() {
            EngineKind::Gpu => {
                let gpu = self.gpu_engine().ok_or(StepError::GpuNotLoaded)?;
                Ok(gpu.model.propose_batch_with_candidates(items).await?)
            }
            EngineKind::Cpu => {
                let cpu = self.cpu.as_ref().ok_or(StepError::NoWorker)?;
                Ok(cpu.propose(items).await?)
            }
        }
    }

    /// The badge's text: which engine runs, on what.
    pub fn describe(&self) -> String {
        match self.active.get() {
            EngineKind::Gpu => match self.gpu_engine() {
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
            EngineKind::Cpu => match self.cpu.as_ref().map_or(1, WorkerEngine::workers) {
                1 => "CPU · fast engine (SIMD128) in a Web Worker, 1 thread".into(),
                n => format!("CPU · fast engine (SIMD128) in {n} Web Workers, one shard of the model each"),
            },
        }
    }
}

/// Whether the browser exposes WebGPU at all (`navigator.gpu`).
fn has_webgpu() -> bool {
    web_sys::window().is_some_and(|w| js_sys::Reflect::has(&w.navigator(), &"gpu".into()).unwrap_or(false))
}

/// What start-up learnt about WebGPU.
#[derive(Clone, Debug, PartialEq)]
pub enum GpuProbe {
    /// No adapter, or the model would not load there: why.
    Unavailable(String),
    /// A software adapter (SwiftShader, WARP, lavapipe) of this name: not loaded, not measured.
    Software(String),
    /// Loaded and measured: ms per step (None: the step failed).
    Measured(Option<f64>),
}

/// The CPU worker's step, when WebGPU's was measured against it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CpuTiming {
    /// Not measured, or the step failed.
    Unmeasured,
    /// ms per step.
    Measured(f64),
    /// No measured step within this many ms: given up (see [`cpu_budget_ms`]).
    Over(f64),
}

/// How long the CPU worker may take for its warm-up and measured steps before WebGPU wins without them: four
/// WebGPU steps, at least 1.5 s. A 0.5 B model's first step over the whole canvas takes tens of seconds on one
/// wasm thread, which a visitor with a GPU would otherwise spend waiting for a measurement the GPU wins anyway.
pub fn cpu_budget_ms(gpu_ms: f64) -> f64 {
    (4.0 * gpu_ms).max(1500.0)
}

/// The engine for `choice`, and why in words for the badge. `cpu_ok`: the worker runs; `cpu`: its step
/// against WebGPU's.
pub fn decide(choice: BackendChoice, gpu: &GpuProbe, cpu_ok: bool, cpu: CpuTiming) -> (EngineKind, String) {
    let ms = |ms: Option<f64>| ms.map_or("failed".to_owned(), |ms| format!("{ms:.0} ms"));
    match (choice, gpu, cpu_ok) {
        (BackendChoice::Cpu, _, true) => (EngineKind::Cpu, "chosen by you".into()),
        (_, GpuProbe::Unavailable(why), _) => (EngineKind::Cpu, format!("WebGPU is not available: {why}")),
        (BackendChoice::Gpu, _, _) => (EngineKind::Gpu, "chosen by you".into()),
        (_, _, false) => (EngineKind::Gpu, "the CPU worker did not start".into()),
        (BackendChoice::Auto, GpuProbe::Software(name), true) => (
            EngineKind::Cpu,
            format!("the WebGPU adapter ({name}) emulates a GPU in software, several times slower than the CPU worker"),
        ),
        (BackendChoice::Auto, GpuProbe::Measured(gpu_ms), true) => {
            let cpu_text = match cpu {
                CpuTiming::Unmeasured => "failed".to_owned(),
                CpuTiming::Measured(c) => format!("{c:.0} ms"),
                CpuTiming::Over(c) => format!("no step within {c:.0} ms"),
            };
            let timing = format!("one step: WebGPU {}, CPU worker {cpu_text}", ms(*gpu_ms));
            match (*gpu_ms, cpu) {
                (Some(g), CpuTiming::Measured(c)) if g < c => (EngineKind::Gpu, format!("faster here ({timing})")),
                (Some(_), CpuTiming::Over(_)) => (EngineKind::Gpu, format!("faster here ({timing})")),
                (Some(_), CpuTiming::Unmeasured) => (EngineKind::Gpu, timing),
                _ => (EngineKind::Cpu, format!("faster here ({timing})")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_faster_engine_and_skips_software_adapters() {
        let auto = BackendChoice::Auto;
        let cpu = |ms| CpuTiming::Measured(ms);
        assert_eq!(decide(auto, &GpuProbe::Measured(Some(5.0)), true, cpu(50.0)).0, EngineKind::Gpu);
        assert_eq!(decide(auto, &GpuProbe::Measured(Some(500.0)), true, cpu(50.0)).0, EngineKind::Cpu);
        assert_eq!(decide(auto, &GpuProbe::Measured(None), true, cpu(50.0)).0, EngineKind::Cpu);
        let (kind, why) = decide(auto, &GpuProbe::Software("SwiftShader".into()), true, CpuTiming::Unmeasured);
        assert_eq!(kind, EngineKind::Cpu);
        assert!(why.contains("SwiftShader"), "{why}");
    }

    #[test]
    fn a_choice_is_kept_unless_impossible() {
        let none = GpuProbe::Unavailable("no adapter".into());
        assert_eq!(
            decide(BackendChoice::Gpu, &GpuProbe::Software("x".into()), true, CpuTiming::Unmeasured).0,
            EngineKind::Gpu
        );
        assert_eq!(
            decide(BackendChoice::Cpu, &GpuProbe::Measured(Some(1.0)), true, CpuTiming::Measured(9.0)).0,
            EngineKind::Cpu
        );
        let (kind, why) = decide(BackendChoice::Gpu, &none, true, CpuTiming::Unmeasured);
        assert_eq!(kind, EngineKind::Cpu);
        assert!(why.contains("no adapter"), "{why}");
        assert_eq!(
            decide(BackendChoice::Auto, &GpuProbe::Software("x".into()), false, CpuTiming::Unmeasured).0,
            EngineKind::Gpu
        );
    }

    #[test]
    fn a_worker_too_slow_to_measure_loses_to_a_measured_gpu() {
        let (kind, why) = decide(BackendChoice::Auto, &GpuProbe::Measured(Some(90.0)), true, CpuTiming::Over(1500.0));
        assert_eq!(kind, EngineKind::Gpu);
        assert!(why.contains("no step within 1500 ms"), "{why}");
        // A failed GPU step still leaves the worker, measured or not.
        assert_eq!(
            decide(BackendChoice::Auto, &GpuProbe::Measured(None), true, CpuTiming::Over(1500.0)).0,
            EngineKind::Cpu
        );
        assert_eq!(cpu_budget_ms(10.0), 1500.0);
        assert_eq!(cpu_budget_ms(800.0), 3200.0);
    }
}
