//! The page: its state (`crate::state`'s three contexts), start-up (link → settings, model download,
//! engines measured and chosen) and the effect that restarts the run whenever a setting changes.

use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use unmask_model::prompt::{ChatTemplate, PromptFormat};
use unmask_model::{ModelConfig, Weights, tokenizer_for};
use unmask_sampler::{Recommended, initial_canvas};

use crate::catalog::{Catalog, MODELS_BASE};
use crate::compare::compare;
use crate::components::{
    compare_panel::ComparePanel, controls::Controls, editor::Editor, inspector::Inspector, model_panel::ModelPanel,
    order_plot::OrderPlot, solve_panel::SolvePanel, stats::Stats, timeline::Timeline, token_grid::TokenGrid,
};
use crate::engine::{CpuTiming, EngineKind, Engines, GpuProbe, cpu_budget_ms, decide, request_gpu};
use crate::exchange::workers_for;
use crate::loader::{Progress, confirm, load_model, page_weights, reload_weights};
use crate::run::{Model, PromptStyle, RunStatus, RunView, now_ms, run};
use crate::settings::{BackendChoice, Mode, Settings};
use crate::solve::{SolveView, solve};
use crate::state::{ColorBy, LoadState, LoadStatus, RunState, ViewState};
use crate::url;
use crate::worker::{Starting, WorkerEngine, WorkerError};

/// The worker's script, written by the site build beside the page.
pub const WORKER_SCRIPT: &str = "./worker.js";
thread_local! {
    /// The page's engines, for [`lose_webgpu_device`].
    static PAGE_ENGINES: std::cell::RefCell<std::rc::Weak<Engines>> =
        const { std::cell::RefCell::new(std::rc::Weak::new()) };
    /// The page's Solve run, for [`solve_report`].
    static PAGE_SOLVE: std::cell::Cell<Option<RwSignal<Option<SolveView>>>> = const { std::cell::Cell::new(None) };
}

/// Test hook: the Solve run on screen as the JSON its download button saves (`null` outside Solve mode).
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn solve_report() -> String {
    let report = PAGE_SOLVE.with(|s| s.get()).and_then(|s| s.with_untracked(|s| s.as_ref().map(SolveView::report)));
    report.unwrap_or_default().to_string()
}

/// Test hook: destroys the WebGPU device the page's model runs on, as a GPU reset would. The run in flight
/// must say so and go on on the CPU worker (`tests/e2e/playground.mjs`). Returns whether there was one.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn lose_webgpu_device() -> bool {
    PAGE_ENGINES.with(|page| page.borrow().upgrade().is_some_and(|engines| engines.lose_gpu_device()))
}

/// Test hook: how many GPU buffers the page's engines hold now. Restarting runs must not add any
/// (the soak in `tests/e2e/playground.mjs`).
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn live_gpu_buffers() -> usize {
    unmask_gpu::live_buffers()
}

/// How often a restart waiting for the engine checks whether the pass in flight has returned.
const IDLE_POLL: Duration = Duration::from_millis(4);

#[component]
pub fn App() -> impl IntoView {
    let (pairs, unreadable) = match url::read_pairs() {
        Ok(pairs) => (pairs, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (settings, mut link_warnings) = url::settings_from(Settings::default(), &pairs);
    link_warnings.extend(unreadable);
    let state = RunState {
        settings: RwSignal::new(settings),
        defaults: RwSignal::new(Settings::default()),
        model: RwSignal::new_local(None),
        run: RwSignal::new(RunView::idle(RunStatus::Loading, "loading the model")),
        solve: RwSignal::new(None),
        compare: RwSignal::new(None),
        current_run: RwSignal::new(0),
        notice: RwSignal::new(None),
        opened_ms: now_ms(),
        first_frame_ms: RwSignal::new(None),
        changed_ms: RwSignal::new(None),
        change_to_frame_ms: RwSignal::new(None),
    };
    let display = ViewState {
        shown: RwSignal::new(0),
        follow: RwSignal::new(true),
        playing: RwSignal::new(false),
        speed: RwSignal::new(8.0),
        color_by: RwSignal::new(ColorBy::Step),
        hovered: RwSignal::new(None),
    };
    let load = LoadState {
        catalog: RwSignal::new(None),
        status: RwSignal::new(LoadStatus::Downloading(Progress::default())),
        warnings: RwSignal::new(link_warnings),
    };
    provide_context(state);
    provide_context(display);
    provide_context(load);
    PAGE_SOLVE.with(|s| s.set(Some(state.solve)));
    spawn_local(start_up(state, load, pairs));
    restart_on_change(state, display);
    follow_newest_step(state, display);

    view! {
        <header>
            <h1>"unmask"</h1>
            <p class="tagline">"Watch a diffusion language model write code: every cell starts masked and the model fills them in, in the order it chooses."</p>
        </header>
        <ModelPanel/>
        <Warnings/>
        <main>
            <section class="left">
                <Editor/>
                <Controls/>
            </section>
            <section class="right">
                <SolvePanel/>
                <ComparePanel/>
                <Timeline/>
                <TokenGrid/>
                <div class="below-grid">
                    <Inspector/>
                    <OrderPlot/>
                </div>
                <Stats/>
            </section>
        </main>
    }
}

#[component]
fn Warnings() -> impl IntoView {
    let state = expect_context::<RunState>();
    let load = expect_context::<LoadState>();
    view! {
        <div class="warnings">
            {move || state.notice.get().map(|n| view! { <p class="notice">{n}</p> })}
            <For each=move || load.warnings.get() key=|w| w.clone() let:warning>
                <p class="warning">{warning}</p>
            </For>
        </div>
    }
}

/// Picks the model for the backend (or the link's), downloads it, applies its recommended settings under the
/// link's, starts the engines, measures one step on each and picks the faster.
async fn start_up(state: RunState, load: LoadState, link: Vec<(String, String)>) {
    let catalog = match load_catalog().await {
        Ok(catalog) => catalog,
        Err(e) => return fail_load(state, load, e),
    };
    let choice = state.settings.get_untracked().backend;
    let gpu = if choice == BackendChoice::Cpu {
        None
    } else {
        load.status.set(LoadStatus::Starting("asking for a WebGPU adapter".into()));
        Some(request_gpu().await)
    };
    let hardware_gpu = matches!(&gpu, Some(Ok(gpu)) if !gpu.summary().is_software);
    let requested = state.settings.with_untracked(|s| s.model.clone());
    // The pool a large model would get (the link's `workers`, else this machine's) sets the CPU default.
    let pool = workers_for(u64::MAX, state.settings.with_untracked(|s| s.workers)).0;
    let (entry, unknown) = catalog.pick(requested.as_deref(), hardware_gpu, pool);
    let entry = entry.clone();
    load.warnings.update(|w| w.extend(unknown));
    load.catalog.set(Some(catalog));
    let on_progress = move |p: Progress| load.status.set(LoadStatus::Downloading(p));
    let files = match load_model(&entry.base(), &on_progress).await {
        Ok(files) => files,
        Err(e) => return fail_load(state, load, e),
    };
    load.warnings.update(|w| w.extend(files.warnings.iter().cloned()));
    let prompt_format = apply_model_defaults(state, load, &entry.name, files.generation_json.as_deref(), &link);
    let template = files.chat_template.as_deref().and_then(ChatTemplate::from_jinja);
    let (prompt_style, fallback) = PromptStyle::new(prompt_format, template);
    load.warnings.update(|w| w.extend(fallback));
    load.status.set(LoadStatus::Starting("reading the model".into()));
    let config = match ModelConfig::from_json(&files.config_json, "config.json") {
        Ok(config) => config,
        Err(e) => return fail_load(state, load, e.to_string()),
    };
    // The worker takes the downloaded weights themselves (moved, not copied: a 0.5 B model's are hundreds of
    // megabytes); the page reads them into its own memory only where WebGPU may run them, to upload.
    let choice = state.settings.get_untracked().backend;
    let gpu_wanted = matches!(&gpu, Some(Ok(g)) if choice == BackendChoice::Gpu || !g.summary().is_software);
    let page_copy = if gpu_wanted { Some(page_weights(&files.weights)) } else { None };
    let asked = state.settings.with_untracked(|s| s.workers);
    let (workers, one_why) = workers_for(files.manifest.total_bytes(), asked);
    load.warnings.update(|w| w.extend(one_why));
    let starting =
        if workers == 1 { "starting the CPU worker".into() } else { format!("starting {workers} CPU workers") };
    load.status.set(LoadStatus::Starting(starting));
    // A pool reads a shared copy of the files, so the page's handles stay usable for one worker instead.
    let handles = (workers > 1).then(|| files.weights.clone());
    // The workers load the model while the page reads the tokenizer and the vocabulary's texts (a 0.5B model's
    // take about a second each).
    let starting = WorkerEngine::start(WORKER_SCRIPT, &files.config_json, files.weights, workers);
    let tokenizer = match tokenizer_for(&config, &files.tokenizer_json) {
        Ok(tokenizer) => tokenizer,
        Err(e) => return fail_load(state, load, format!("the model files do not fit together: {e}")),
    };
    let token_text = (0..config.vocab_size as u32).map(|id| tokenizer.decode(&[id]).unwrap_or_default()).collect();
    let mut cpu = loaded(starting).await;
    if let (Err(e), Some(handles)) = (&cpu, handles) {
        load.warnings.update(|w| w.push(format!("{workers} CPU workers could not load the model ({e}); trying one")));
        cpu = loaded(WorkerEngine::start(WORKER_SCRIPT, &files.config_json, handles, 1)).await;
    }
    // A cached copy's hash was computed while the worker loaded it; if it was damaged, the load starts over
    // (the copy is gone, so it is downloaded), and what the damaged bytes did to the engines is forgotten.
    if let Err(damaged) = confirm(files.pending).await {
        if !damaged.load_again {
            return fail_load(state, load, damaged.message);
        }
        load.warnings.update(|w| w.push(damaged.message));
        return Box::pin(start_up(state, load, link)).await;
    }
    let cpu = match cpu {
        Ok(cpu) => Some(cpu),
        Err(e) => {
            load.warnings.update(|w| w.push(e.to_string()));
            None
        }
    };
    let engines = Engines::new(cpu, gpu);
    let cpu_ok = engines.cpu.is_some();
    // The canvas of the run about to start: a step of the length that matters is what gets measured.
    let settings = state.settings.get_untracked();
    let prompt = prompt_style.encode(&tokenizer, &settings.prompt).map(|p| p.ids).unwrap_or_default();
    let canvas = initial_canvas(&prompt, settings.sampler.max_new_tokens, config.mask_token_id);
    let probe = if choice == BackendChoice::Cpu && cpu_ok {
        GpuProbe::Unavailable("not requested".into())
    } else {
        probe_gpu(load, &engines, choice, cpu_ok, (&config, page_copy, &entry.base()), &canvas).await
    };
    let cpu_timing = match (&probe, choice) {
        (GpuProbe::Measured(Some(gpu_ms)), BackendChoice::Auto) if cpu_ok => {
            engines.set_active(EngineKind::Cpu, String::new());
            let budget = cpu_budget_ms(*gpu_ms);
            match within(budget, measure_step(&engines, &canvas, config.mask_token_id)).await {
                Some(Some(ms)) => CpuTiming::Measured(ms),
                Some(None) => CpuTiming::Unmeasured,
                None => CpuTiming::Over(budget),
            }
        }
        _ => CpuTiming::Unmeasured,
    };
    if !cpu_ok && matches!(probe, GpuProbe::Unavailable(_)) {
        return fail_load(state, load, "neither WebGPU nor the CPU worker can run the model here".into());
    }
    let (kind, reason) = decide(choice, &probe, cpu_ok, cpu_timing);
    engines.set_active(kind, reason);
    let end_tokens = prompt_style.format.end_tokens(&tokenizer, config.end_token_ids());
    let model = Model {
        name: files.manifest.name.clone(),
        config,
        source: entry.base(),
        tokenizer,
        token_text,
        engines: Rc::new(engines),
        weight_bytes: files.manifest.total_bytes(),
        quant: files.manifest.quant.clone(),
        parameters: files.manifest.parameters,
        prompt_style,
        end_tokens,
    };
    PAGE_ENGINES.with(|page| *page.borrow_mut() = Rc::downgrade(&model.engines));
    state.model.set(Some(Rc::new(model)));
    load.status.set(LoadStatus::Ready);
}

/// The workers `start` began, once loaded.
async fn loaded(start: Result<Starting, WorkerError>) -> Result<WorkerEngine, WorkerError> {
    start?.loaded().await
}

/// What WebGPU offers: no adapter, a software one (left unloaded when the worker can run instead), or the
/// model loaded there, measured when the choice is automatic.
async fn probe_gpu(
    load: LoadState,
    engines: &Engines,
    choice: BackendChoice,
    cpu_ok: bool,
    (config, page_copy, source): (&ModelConfig, Option<Result<Weights, String>>, &str),
    canvas: &[u32],
) -> GpuProbe {
    let adapter = match engines.gpu_adapter().await {
        Ok(adapter) => adapter,
        Err(why) => return GpuProbe::Unavailable(why),
    };
    if adapter.is_software && choice == BackendChoice::Auto && cpu_ok {
        let name = if adapter.name.is_empty() { "unnamed".to_owned() } else { adapter.name };
        return GpuProbe::Software(name);
    }
    load.status.set(LoadStatus::Starting("loading the model on WebGPU (building its pipelines)".into()));
    // The page's copy of the weights lives only while WebGPU uploads it; read from the cache if none was made.
    let weights = match page_copy {
        Some(copy) => copy,
        None => reload_weights(source).await,
    };
    if let Err(why) = match weights {
        Ok(weights) => engines.load_gpu(config, &weights).await,
        Err(why) => Err(why),
    } {
        load.warnings.update(|w| w.push(format!("WebGPU cannot run the model here ({why})")));
        return GpuProbe::Unavailable(why);
    }
    if choice != BackendChoice::Auto || !cpu_ok {
        return GpuProbe::Measured(None);
    }
    load.status.set(LoadStatus::Starting("measuring WebGPU and the CPU worker".into()));
    engines.set_active(EngineKind::Gpu, String::new());
    GpuProbe::Measured(measure_step(engines, canvas, config.mask_token_id).await)
}

/// `work`'s output, or None if `ms` pass first. The work is dropped then: a worker request it was awaiting is
/// abandoned (its late reply resolves nothing), so it never touches the engine chosen afterwards.
async fn within<T>(ms: f64, work: impl Future<Output = T>) -> Option<T> {
    let mut work = std::pin::pin!(work);
    let mut timer = std::pin::pin!(gloo_timers::future::TimeoutFuture::new(ms as u32));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Milliseconds of one step over `canvas` (its masked positions), after one warm-up step; None on failure.
async fn measure_step(engines: &Engines, canvas: &[u32], mask: u32) -> Option<f64> {
    let positions: Vec<u32> = (0..canvas.len() as u32).filter(|&q| canvas[q as usize] == mask).collect();
    let rule = unmask_sampler::ProposalRule {
        draw: unmask_sampler::TokenDraw::Sample { temperature: 0.2, top_p: 1.0, top_k: 0 },
        score: unmask_sampler::ScoreKind::NegEntropy,
        mask_token: mask,
    };
    let key = unmask_sampler::StepKey { seed: 0, step: 0 };
    engines.propose(canvas, &positions, &rule, key).await.ok()?;
    let started = now_ms();
    engines.propose(canvas, &positions, &rule, key).await.ok()?;
    Some(now_ms() - started)
}

/// `models/index.json`, the models the site ships.
async fn load_catalog() -> Result<Catalog, String> {
    let url = format!("{MODELS_BASE}index.json");
    let text = crate::loader::fetch_text(&url).await.map_err(|e| format!("cannot load the model list: {e}"))?;
    Catalog::parse(&text).map_err(|e| format!("{url} is not a usable model list: {e}"))
}

/// The loaded model's recommended settings (its `generation_config.json`, if it has one) become the defaults,
/// and the link is read again over them; settings the user changed while the model downloaded are kept.
/// Returns the prompt format the model recommends.
fn apply_model_defaults(
    state: RunState,
    load: LoadState,
    name: &str,
    generation_json: Option<&str>,
    link: &[(String, String)],
) -> Option<PromptFormat> {
    let recommended = generation_json.map(Recommended::parse);
    let (defaults, prompt_format) = match recommended {
        None => (Settings::default(), None),
        Some(Ok(recommended)) => (Settings::recommended(&recommended.decoding), recommended.prompt_format),
        Some(Err(e)) => {
            load.warnings.update(|w| {
                w.push(format!("{name}'s generation_config.json is not usable ({e}); using the page's defaults"))
            });
            (Settings::default(), None)
        }
    };
    let untouched = state.settings.get_untracked() == url::settings_from(Settings::default(), link).0;
    let mut settings =
        if untouched { url::settings_from(defaults.clone(), link).0 } else { state.settings.get_untracked() };
    settings.model = Some(name.to_owned());
    state.defaults.set(defaults);
    state.settings.set(settings);
    prompt_format
}

fn fail_load(state: RunState, load: LoadState, message: String) {
    load.status.set(LoadStatus::Failed(message.clone()));
    state.run.set(RunView::idle(RunStatus::Error, message));
}

/// Every settings change (once the model is ready): the URL is updated, the run in flight is cancelled at
/// once, and the new run starts as soon as the engine is free (see [`start_when_idle`]).
fn restart_on_change(state: RunState, display: ViewState) {
    Effect::new(move |previous: Option<Settings>| {
        let settings = state.settings.get();
        let Some(model) = state.model.get() else { return settings };
        url::write_settings(&settings, &state.defaults.get_untracked());
        let id = state.current_run.get_untracked() + 1;
        state.current_run.set(id);
        let first = previous.is_none() || state.run.with_untracked(|r| r.id == 0);
        if !first {
            state.changed_ms.set(Some(now_ms()));
            state.change_to_frame_ms.set(None);
        }
        if let Some(previous) = &previous
            && previous.backend != settings.backend
        {
            apply_backend_choice(&model, settings.backend);
        }
        state.run.update(|r| r.restart("starting…"));
        let returned = settings.clone();
        let engines = model.engines.clone();
        let start = move || {
            if state.current_run.get_untracked() == id {
                display.follow.set(true);
                display.playing.set(false);
                match settings.mode {
                    Mode::Watch => {
                        state.solve.set(None);
                        state.compare.set(None);
                        spawn_local(run(
                            model.clone(),
                            settings.clone(),
                            id,
                            state.current_run,
                            state.run,
                            state.notice,
                        ));
                    }
                    Mode::Solve => {
                        state.compare.set(None);
                        spawn_local(solve(model.clone(), settings.clone(), id, state, display))
                    }
                    Mode::Compare => {
                        state.solve.set(None);
                        spawn_local(compare(model.clone(), settings.clone(), id, state))
                    }
                }
            }
        };
        if first {
            start()
        } else {
            start_when_idle(engines, id, state.current_run, start)
        }
        returned
    });
}

/// Runs `start` once no forward pass is in flight. A cancelled run's pass cannot be taken back from the
/// worker, so the new run waits for it rather than queueing behind it; while a slider is dragged, each newer
/// change supersedes this one (only the newest run id starts), so passes never pile up and the first frame
/// of the settled value follows within about one step, with no fixed debounce.
fn start_when_idle(engines: Rc<Engines>, id: u64, current_run: RwSignal<u64>, start: impl FnOnce() + 'static) {
    if current_run.get_untracked() != id {
        return;
    }
    if engines.busy() {
        set_timeout(move || start_when_idle(engines, id, current_run, start), IDLE_POLL);
    } else {
        start();
    }
}

fn apply_backend_choice(model: &Model, choice: BackendChoice) {
    let engines = &model.engines;
    match choice {
        // The run loads the model on WebGPU first if it is not there yet.
        BackendChoice::Gpu if engines.gpu_possible() => engines.set_active(EngineKind::Gpu, "chosen by you".into()),
        BackendChoice::Gpu => engines.set_active(EngineKind::Cpu, "WebGPU is not available here".into()),
        BackendChoice::Cpu if engines.cpu.is_some() => engines.set_active(EngineKind::Cpu, "chosen by you".into()),
        _ => {}
    }
}

/// While following, the scrubber shows the newest step; the first shown step of a run is timed.
fn follow_newest_step(state: RunState, display: ViewState) {
    Effect::new(move |_| {
        let (steps, id) = state.run.with(|r| (r.steps.len(), r.id));
        if display.follow.get() {
            display.shown.set(steps);
        }
        if steps >= 1 && id == state.current_run.get_untracked() {
            if state.first_frame_ms.get_untracked().is_none() {
                state.first_frame_ms.set(Some(now_ms() - state.opened_ms));
            }
            if let (Some(changed), None) = (state.changed_ms.get_untracked(), state.change_to_frame_ms.get_untracked())
            {
                state.change_to_frame_ms.set(Some(now_ms() - changed));
            }
        }
    });
}

/// Mounts the page into `root`.
pub fn mount(root: web_sys::HtmlElement) {
    console_error_panic_hook();
    leptos::mount::mount_to(root, App).forget();
}

/// Panics print to the console with their message instead of "unreachable".
fn console_error_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
}
