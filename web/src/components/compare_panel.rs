//! Compare mode's panel: the left-to-right decode and the settings' decode of the same prompt side by side,
//! each filling in at its real pace, with its forward passes, tokens per pass and wall time. Lanes carry
//! `data-lane` (0 = left to right), `data-state`, `data-passes`, `data-tokens` and `data-most-per-pass` (the most
//! commits of one pass); the e2e test reads them.

use leptos::prelude::*;

use crate::compare::Lane;
use crate::components::answer_cells::answer_cells;
use crate::run::{Model, RunStatus};
use crate::state::RunState;

#[component]
pub fn ComparePanel() -> impl IntoView {
    let state = expect_context::<RunState>();
    move || {
        let model = state.model.get()?;
        state.compare.with(|c| {
            let lanes = c.as_ref()?.lanes.iter().enumerate().map(|(i, lane)| lane_view(&model, i, lane)).collect_view();
            Some(view! {
                <section class="compare" aria-label="Compare: left to right beside the settings' decode">
                    {lanes}
                </section>
            })
        })
    }
}

fn lane_view(model: &Model, index: usize, lane: &Lane) -> impl IntoView + use<> {
    let run = &lane.run;
    let passes = run.steps.len();
    let most_per_pass = run.steps.iter().map(|s| s.commits.len()).max().unwrap_or(0);
    let tokens = run.answer_tokens(model.config.mask_token_id, |t| model.is_end(t));
    let per_pass = if passes == 0 { 0.0 } else { tokens as f64 / passes as f64 };
    let seconds = lane.elapsed_ms() / 1e3;
    let status = match run.status {
        RunStatus::Error => run.message.clone(),
        RunStatus::Done => "done".to_owned(),
        _ => "decoding…".to_owned(),
    };
    view! {
        <div class="lane" data-lane=index data-state=run.status.id() data-passes=passes data-tokens=tokens data-most-per-pass=most_per_pass>
            <div class="lane-head"><strong>{lane.label.clone()}</strong><span>{status}</span></div>
            <div class="mini">{answer_cells(model, run)}</div>
            <dl class="lane-numbers">
                <dt>"forward passes"</dt><dd>{passes}</dd>
                <dt>"tokens"</dt><dd>{tokens}</dd>
                <dt>"tokens / pass"</dt><dd>{format!("{per_pass:.2}")}</dd>
                <dt>"wall time"</dt><dd>{format!("{seconds:.1} s")}</dd>
            </dl>
        </div>
    }
}
