//! The scrubber over the run's steps, play/pause and replay speed, and the trace download.

use leptos::prelude::*;

use crate::components::download::save_json;
use crate::run::RunStatus;
use crate::state::{RunState, ViewState};

#[component]
pub fn Timeline() -> impl IntoView {
    let state = expect_context::<RunState>();
    let display = expect_context::<ViewState>();
    let total = move || state.run.with(|r| r.steps.len());
    // Replay: advance one step per tick while playing; stop at the end.
    Effect::new(move |_| {
        if !display.playing.get() {
            return;
        }
        let delay = std::time::Duration::from_secs_f64(1.0 / display.speed.get().max(0.5));
        let shown = display.shown.get();
        set_timeout(
            move || {
                if !display.playing.get_untracked() {
                    return;
                }
                let total = state.run.with_untracked(|r| r.steps.len());
                if shown >= total {
                    display.playing.set(false);
                } else {
                    display.shown.set(shown + 1);
                }
            },
            delay,
        );
    });
    let play = move |_| {
        if display.playing.get_untracked() {
            display.playing.set(false);
        } else {
            display.follow.set(false);
            if display.shown.get_untracked() >= total() {
                display.shown.set(0);
            }
            display.playing.set(true);
        }
    };
    view! {
        <div class="timeline">
            <button id="play" on:click=play disabled=move || total() == 0>
                {move || if display.playing.get() { "⏸ Pause" } else { "▶ Replay" }}
            </button>
            <input
                type="range"
                id="scrubber"
                aria-label="Step shown"
                min="0"
                max=move || total().to_string()
                step="1"
                prop:value=move || display.shown.get().to_string()
                on:input=move |ev| {
                    if let Ok(step) = event_target_value(&ev).parse::<usize>() {
                        display.playing.set(false);
                        display.follow.set(step >= total() && state.run.with_untracked(|r| r.status == RunStatus::Running));
                        display.shown.set(step.min(total()));
                    }
                }
            />
            <output id="step-shown">{move || format!("step {} of {}", display.shown.get(), total())}</output>
            <label for="speed">"speed"</label>
            <select id="speed" on:change=move |ev| display.speed.set(event_target_value(&ev).parse().unwrap_or(8.0))>
                {[2.0, 4.0, 8.0, 16.0, 32.0].map(|s| view! { <option value=s.to_string() selected=s == 8.0>{format!("{s} steps/s")}</option> }).into_iter().collect_view()}
            </select>
            <button id="download" disabled=move || state.run.with(|r| r.trace.is_none()) on:click=move |_| download_trace(state)>
                "Download trace (JSON)"
            </button>
            <button id="copy-link" on:click=move |_| copy_link()>"Copy link"</button>
        </div>
    }
}

/// Saves the finished run's trace, in the format `unmask generate --trace` writes.
fn download_trace(state: RunState) {
    if let Some(json) =
        state.run.with_untracked(|r| r.trace.as_ref().and_then(|t| serde_json::to_string_pretty(t).ok()))
    {
        save_json("unmask-trace.json", json);
    }
}

fn copy_link() {
    if let Some(window) = web_sys::window() {
        let href = window.location().href().unwrap_or_default();
        let _ = window.navigator().clipboard().write_text(&href);
    }
}
