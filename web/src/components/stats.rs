//! Numbers of the run on screen: AR-ness (how left-to-right the decode was), tokens per step, speed, and the
//! page's own timings.

use leptos::prelude::*;
use unmask_sampler::metrics;

use crate::state::RunState;

#[component]
pub fn Stats() -> impl IntoView {
    let state = expect_context::<RunState>();
    let numbers = move || {
        let mask = state.model.with(|m| m.as_ref().map(|m| m.config.mask_token_id))?;
        state.run.with(|r| {
            if r.steps.is_empty() {
                return None;
            }
            let ar = metrics::ar_ness(&r.initial, mask, &r.steps);
            let tokens: usize = r.steps.iter().map(|s| s.commits.len()).sum();
            let millis: f64 = r.steps.iter().map(|s| s.millis).sum();
            let steps = r.steps.len();
            // The first step runs the prompt too; the later ones only the rows they decode.
            let first = r.steps[0].millis;
            let later = (steps > 1).then(|| (millis - first) / (steps - 1) as f64);
            Some(view! {
                <dl class="stats">
                    <dt>"local AR-ness"</dt><dd id="local-ar">{format!("{:.2}", ar.local_1)}</dd>
                    <dt>"global AR-ness"</dt><dd id="global-ar">{format!("{:.2}", ar.global_1)}</dd>
                    <dt>"tokens / step"</dt><dd>{format!("{:.2}", tokens as f64 / steps as f64)}</dd>
                    <dt>"ms / step"</dt><dd id="ms-per-step">{format!("{:.0}", millis / steps as f64)}</dd>
                    <dt>"first step ms"</dt><dd id="first-step-ms">{format!("{first:.0}")}</dd>
                    <dt>"ms / later step"</dt>
                    <dd id="ms-per-later-step">{later.map_or("–".to_owned(), |ms| format!("{ms:.0}"))}</dd>
                    <dt>"tokens / s"</dt><dd>{format!("{:.1}", tokens as f64 / (millis / 1e3).max(1e-9))}</dd>
                </dl>
            })
        })
    };
    let timings = move || {
        let mut parts = Vec::new();
        if let Some(ms) = state.first_frame_ms.get() {
            parts.push(format!("page open → first step {ms:.0} ms"));
        }
        if let Some(ms) = state.change_to_frame_ms.get() {
            parts.push(format!("last change → first step {ms:.0} ms"));
        }
        parts.join(" · ")
    };
    view! {
        <div class="numbers">
            {numbers}
            <p class="timings" id="timings">{timings}</p>
            <p class="hint">"AR-ness is 1 when every token is decoded right after its left neighbour (local) or leftmost-first among the remaining masks (global); lower means the model wrote out of order."</p>
        </div>
    }
}
