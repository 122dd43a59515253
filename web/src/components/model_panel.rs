//! The model's name, size and download progress, the picker among the shipped models, and the badge saying
//! which engine runs and why.

use leptos::prelude::*;

use crate::loader::Progress;
use crate::state::{LoadState, LoadStatus, RunState};
use crate::url;

#[component]
pub fn ModelPanel() -> impl IntoView {
    let state = expect_context::<RunState>();
    let load = expect_context::<LoadState>();
    let progress = move || match load.status.get() {
        LoadStatus::Downloading(p) => {
            let percent = if p.total > 0 { 100.0 * p.loaded as f64 / p.total as f64 } else { 0.0 };
            view! {
                <div class="progress" role="progressbar" aria-valuenow=format!("{percent:.0}")>
                    <div class="bar" style=format!("width: {percent:.1}%")></div>
                    <span>{format!("downloading the model: {} of {} ({percent:.0} %){}", mib(p.loaded), mib(p.total), pace(&p))}</span>
                </div>
            }
            .into_any()
        }
        LoadStatus::Starting(what) => view! { <p class="starting">{what}"…"</p> }.into_any(),
        LoadStatus::Failed(message) => view! { <p class="error">{message}</p> }.into_any(),
        LoadStatus::Ready => ().into_any(),
    };
    let badge = move || {
        state.model.get().map(|m| {
            // Read the run so the badge follows a fallback during a run.
            let _ = state.run.with(|r| r.engine);
            let engines = &m.engines;
            view! {
                <p class="model">
                    <strong>{m.name.clone()}</strong>
                    {format!(" · {:.1} M parameters · {} weights, {} downloaded", m.parameters as f64 / 1e6, m.quant, mib(m.weight_bytes))}
                </p>
                <p class="badge" data-engine=engines.active().id() data-workers=engines.cpu.as_ref().map_or(0, |c| c.workers())>
                    <span class="engine">{engines.describe()}</span>
                    <span class="why">{format!(" — {}", engines.reason())}</span>
                </p>
            }
        })
    };
    // Another model means other weights and other engines: the page loads again with the settings kept
    // (those still at the old model's defaults take the new model's).
    let switch_to = move |name: String| {
        let mut settings = state.settings.get_untracked();
        settings.model = Some(name);
        let search = url::query(&settings, &state.defaults.get_untracked());
        if let Some(window) = web_sys::window() {
            let _ = window.location().set_search(&search);
        }
    };
    let picker = move || {
        let catalog = load.catalog.get()?;
        let current = state.settings.with(|s| s.model.clone());
        let options = catalog
            .models
            .into_iter()
            .map(|m| {
                let label = format!("{} · {:.1} M parameters · {}", m.name, m.parameters as f64 / 1e6, mib(m.bytes));
                let selected = current.as_deref() == Some(m.name.as_str());
                view! { <option value=m.name selected=selected>{label}</option> }
            })
            .collect_view();
        Some(view! {
            <div class="model-picker">
                <label for="model">"Model"</label>
                <select id="model" on:change=move |ev| switch_to(event_target_value(&ev))>{options}</select>
            </div>
        })
    };
    view! { <section class="model-panel">{progress}{picker}{badge}</section> }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// ", 4.2 MiB/s, about 1 min left" once the download has a rate.
fn pace(p: &Progress) -> String {
    let Some(left) = p.seconds_left() else { return String::new() };
    let left = if left < 60.0 { format!("{:.0} s", left.max(1.0)) } else { format!("{:.0} min", left / 60.0) };
    format!(", {}/s, about {left} left", mib(p.rate as u64))
}
