//! A run's answer as small cells, coloured by the step that decoded them (as the main grid is): the Solve
//! panel's sample cards and the Compare panel's lanes.

use leptos::prelude::*;

use crate::components::palette;
use crate::run::{Model, RunView};

/// The answer cells of `run` as they stand after its newest step.
pub fn answer_cells(model: &Model, run: &RunView) -> impl IntoView + use<> {
    let mask = model.config.mask_token_id;
    let steps = run.steps.len();
    (0..run.initial.len())
        .filter(|&q| run.was_masked(q, mask))
        .map(|q| match run.token_at(q, steps, mask) {
            None => view! { <span class="tok masked">"░"</span> }.into_any(),
            Some(t) if model.is_end(t) => view! { <span class="tok end">"·"</span> }.into_any(),
            Some(t) => {
                let step = run.decoded_at[q].unwrap_or(0);
                let style = format!("background: {}", palette::scale(palette::step_position(step, steps)));
                let text = model.token_text.get(t as usize).cloned().unwrap_or_default();
                view! { <span class="tok decoded" style=style>{text}</span> }.into_any()
            }
        })
        .collect_view()
}
