//! Every decoding control. Sliders cannot leave their valid range; typed numbers are checked and explained
//! next to the field; a control the chosen strategy ignores is disabled and says so. Any change restarts the
//! run (the app's settings effect).

use leptos::prelude::*;
use unmask_sampler::SamplerConfig;

use crate::settings::{
    BackendChoice, Control, MAX_LENGTH, MAX_SAMPLES, MAX_SEED, MIN_SAMPLES, Mode, Settings, Strategy,
};
use crate::state::{ColorBy, RunState, ViewState};

/// A slider over one numeric setting.
struct SliderSpec {
    id: &'static str,
    label: &'static str,
    control: Control,
    min: f64,
    max: f64,
    step: f64,
    get: fn(&SamplerConfig) -> f64,
    set: fn(&mut SamplerConfig, f64),
    help: &'static str,
}

const SLIDERS: &[SliderSpec] = &[
    SliderSpec {
        id: "temperature",
        label: "Temperature",
        control: Control::Temperature,
        min: 0.0,
        max: 2.0,
        step: 0.05,
        get: |c| c.temperature as f64,
        set: |c, v| c.temperature = v as f32,
        help: "0 = always the most likely token",
    },
    SliderSpec {
        id: "steps",
        label: "Steps",
        control: Control::Steps,
        min: 1.0,
        max: 256.0,
        step: 1.0,
        get: |c| c.steps as f64,
        set: |c, v| c.steps = v as u32,
        help: "denoising steps; fewer = more tokens per step",
    },
    SliderSpec {
        id: "length",
        label: "Answer length",
        control: Control::Length,
        min: 0.0,
        max: MAX_LENGTH as f64,
        step: 1.0,
        get: |c| c.max_new_tokens as f64,
        set: |c, v| c.max_new_tokens = v as u32,
        help: "masked tokens after the prompt",
    },
    SliderSpec {
        id: "top_p",
        label: "Top-p",
        control: Control::TopP,
        min: 0.05,
        max: 1.0,
        step: 0.05,
        get: |c| c.top_p as f64,
        set: |c, v| c.top_p = v as f32,
        help: "1 = off",
    },
    SliderSpec {
        id: "top_k",
        label: "Top-k",
        control: Control::TopK,
        min: 0.0,
        max: 100.0,
        step: 1.0,
        get: |c| c.top_k as f64,
        set: |c, v| c.top_k = v as u32,
        help: "0 = off",
    },
    SliderSpec {
        id: "alg_temp",
        label: "Position randomness (alg_temp)",
        control: Control::AlgTemp,
        min: 0.0,
        max: 2.0,
        step: 0.05,
        get: |c| c.alg_temp as f64,
        set: |c, v| c.alg_temp = v as f32,
        help: "0 = always the most certain positions first",
    },
    SliderSpec {
        id: "block_length",
        label: "Block length",
        control: Control::BlockLength,
        min: 1.0,
        max: 256.0,
        step: 1.0,
        get: |c| c.block_length as f64,
        set: |c, v| c.block_length = v as u32,
        help: "semi-autoregressive blocks, left to right",
    },
    SliderSpec {
        id: "threshold",
        label: "Confidence threshold",
        control: Control::Threshold,
        min: 0.05,
        max: 1.0,
        step: 0.05,
        get: |c| c.threshold as f64,
        set: |c, v| c.threshold = v as f32,
        help: "commit every position above it (at least one per step)",
    },
];

#[component]
pub fn Controls() -> impl IntoView {
    let state = expect_context::<RunState>();
    let display = expect_context::<ViewState>();
    let strategy = move || state.settings.with(|s| s.strategy);
    // Read the run too: a device lost during a run changes what the Engine menu offers.
    let gpu_possible = move || {
        let _ = state.run.with(|r| r.engine);
        state.model.with(|m| m.as_ref().is_none_or(|m| m.engines.gpu_possible()))
    };
    let sliders = SLIDERS
        .iter()
        .map(|spec| {
            let used = move || strategy().uses(spec.control);
            let value = move || state.settings.with(|s| (spec.get)(&s.sampler));
            view! {
                <div class="control" class:unused=move || !used()>
                    <label for=spec.id>{spec.label}</label>
                    <input
                        type="range"
                        id=spec.id
                        min=spec.min
                        max=spec.max
                        step=spec.step
                        disabled=move || !used()
                        prop:value=move || value().to_string()
                        on:input=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                                let v = v.clamp(spec.min, spec.max);
                                state.settings.update(|s| (spec.set)(&mut s.sampler, v));
                            }
                        }
                    />
                    <output for=spec.id>{move || format_value(value(), spec.step)}</output>
                    <small>{move || if used() { spec.help.to_owned() } else { format!("not used by {}", strategy().id()) }}</small>
                </div>
            }
        })
        .collect_view();
    let blocks_used = move || strategy().uses(Control::BlockLength);
    let seed_error = RwSignal::new(None::<String>);
    let mode = move || state.settings.with(|s| s.mode);
    let solving = move || mode() == Mode::Solve;
    view! {
        <div class="controls">
            <div class="control">
                <label for="mode">"Mode"</label>
                <select id="mode" on:change=move |ev| {
                    if let Some(m) = Mode::from_id(&event_target_value(&ev)) {
                        state.settings.update(|s| s.mode = m);
                    }
                }>
                    <option value=Mode::Watch.id() selected=move || mode() == Mode::Watch>"Watch one run"</option>
                    <option value=Mode::Compare.id() selected=move || mode() == Mode::Compare>"Compare with left to right"</option>
                    <option value=Mode::Solve.id() selected=solving>"Solve (sample, test, choose)"</option>
                </select>
            </div>
            <div class="control" class:unused=move || !solving()>
                <label for="samples">"Samples"</label>
                <input type="range" id="samples" min=MIN_SAMPLES max=MAX_SAMPLES step="1"
                    disabled=move || !solving()
                    prop:value=move || state.settings.with(|s| s.samples.to_string())
                    on:input=move |ev| {
                        if let Ok(n) = event_target_value(&ev).parse::<u32>() {
                            state.settings.update(|s| s.samples = n.clamp(MIN_SAMPLES, MAX_SAMPLES));
                        }
                    }
                />
                <output for="samples">{move || state.settings.with(|s| s.samples)}</output>
                <small>{move || if solving() { "decoded together, seeds from Seed up; a higher temperature varies them more" } else { "used in Solve mode" }}</small>
            </div>
            <div class="control wide">
                <label for="strategy">"Remasking strategy"</label>
                <select id="strategy" on:change=move |ev| {
                    if let Some(s) = Strategy::from_id(&event_target_value(&ev)) {
                        state.settings.update(|settings| settings.strategy = s);
                    }
                }>
                    {Strategy::ALL.iter().map(|s| view! {
                        <option value=s.id() selected=move || strategy() == *s>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            {sliders}
            <div class="control" class:unused=move || !blocks_used()>
                <label for="align_blocks">"Align blocks"</label>
                <input type="checkbox" id="align_blocks"
                    disabled=move || !blocks_used()
                    prop:checked=move || state.settings.with(|s| s.sampler.align_blocks)
                    on:change=move |ev| {
                        let checked = event_target_checked(&ev);
                        state.settings.update(|s| s.sampler.align_blocks = checked);
                    }
                />
                <small>{move || if blocks_used() { "blocks start at multiples of the block length from the canvas start, as a block-causal model was trained" } else { "used by the block strategies" }}</small>
            </div>
            <div class="control">
                <label for="stop_at_end">"Stop at the end"</label>
                <input type="checkbox" id="stop_at_end"
                    prop:checked=move || state.settings.with(|s| s.sampler.stop_at_end)
                    on:change=move |ev| {
                        let checked = event_target_checked(&ev);
                        state.settings.update(|s| s.sampler.stop_at_end = checked);
                    }
                />
                <small>"stop once the answer has ended and nothing before its end is masked: the same answer in fewer steps"</small>
            </div>
            <div class="control">
                <label for="seed">"Seed"</label>
                <input type="number" id="seed" min="0" max=MAX_SEED.to_string() step="1"
                    prop:value=move || state.settings.with(|s| s.sampler.seed.to_string())
                    on:change=move |ev| match parse_seed(&event_target_value(&ev)) {
                        Ok(seed) => {
                            seed_error.set(None);
                            state.settings.update(|s| s.sampler.seed = seed);
                        }
                        Err(e) => seed_error.set(Some(e)),
                    }
                />
                <button id="new-seed" on:click=move |_| state.settings.update(|s| s.sampler.seed = (js_sys::Math::random() * 1e9) as u64)>"New seed"</button>
                <small class="field-error">{move || seed_error.get()}</small>
            </div>
            <div class="control">
                <label for="backend">"Engine"</label>
                <select id="backend" on:change=move |ev| {
                    if let Some(b) = BackendChoice::from_id(&event_target_value(&ev)) {
                        state.settings.update(|s| s.backend = b);
                    }
                }>
                    {[(BackendChoice::Auto, "Auto (the faster here)"), (BackendChoice::Gpu, "WebGPU"), (BackendChoice::Cpu, "CPU worker")]
                        .into_iter()
                        .map(|(b, label)| {
                            let unavailable = move || b == BackendChoice::Gpu && !gpu_possible();
                            view! {
                                <option value=b.id() selected=move || state.settings.with(|s| s.backend) == b disabled=unavailable>
                                    {move || if unavailable() { format!("{label} (unavailable)") } else { label.to_owned() }}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </div>
            <div class="control">
                <label for="color-by">"Colour tokens by"</label>
                <select id="color-by" on:change=move |ev| display.color_by.set(if event_target_value(&ev) == "confidence" { ColorBy::Confidence } else { ColorBy::Step })>
                    <option value="step">"the step that decoded them"</option>
                    <option value="confidence">"the model's confidence"</option>
                </select>
            </div>
            <button id="reset" on:click=move |_| state.settings.update(|s| {
                let prompt = std::mem::take(&mut s.prompt);
                *s = Settings { prompt, mode: s.mode, model: s.model.take(), ..state.defaults.get_untracked() };
            })>"Reset controls"</button>
        </div>
    }
}

fn format_value(value: f64, step: f64) -> String {
    if step >= 1.0 { format!("{value:.0}") } else { format!("{value:.2}") }
}

fn parse_seed(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(seed) if seed <= MAX_SEED => Ok(seed),
        _ => Err(format!("the seed is a whole number from 0 to {MAX_SEED}")),
    }
}
