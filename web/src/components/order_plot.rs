//! The decode-order plot: each decoded position (x) against the step that decoded it (y). A left-to-right
//! decode is a diagonal; diffusion decoding scatters.

use leptos::prelude::*;

use crate::components::palette;
use crate::state::{RunState, ViewState};

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 200.0;
const PAD: f64 = 24.0;

#[component]
pub fn OrderPlot() -> impl IntoView {
    let state = expect_context::<RunState>();
    let display = expect_context::<ViewState>();
    let points = move || {
        let shown = display.shown.get();
        state.run.with(|r| {
            let steps = r.steps.len().max(1);
            let answer: Vec<usize> = (0..r.initial.len()).filter(|&q| r.decoded_at[q].is_some() || q >= r.prompt_len).collect();
            let (first, last) = (answer.first().copied().unwrap_or(0), answer.last().copied().unwrap_or(1));
            let span = (last - first).max(1) as f64;
            r.steps
                .iter()
                .take(shown)
                .flat_map(|s| s.commits.iter().map(move |c| (c.position as usize, s.step)))
                .map(|(q, step)| {
                    let x = PAD + (q - first) as f64 / span * (WIDTH - 2.0 * PAD);
                    let y = PAD + step as f64 / (steps.max(2) - 1) as f64 * (HEIGHT - 2.0 * PAD);
                    view! { <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="3" fill=palette::scale(palette::step_position(step, steps))/> }
                })
                .collect_view()
        })
    };
    view! {
        <figure class="order-plot">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label="Decode order: position against step">
                <line x1=PAD y1=PAD x2=WIDTH - PAD y2=PAD class="axis"/>
                <line x1=PAD y1=PAD x2=PAD y2=HEIGHT - PAD class="axis"/>
                <text x=WIDTH / 2.0 y=14 class="axis-label">"position →"</text>
                <text x=4 y=HEIGHT / 2.0 class="axis-label" transform=format!("rotate(-90 10 {})", HEIGHT / 2.0)>"step ↓"</text>
                {points}
            </svg>
            <figcaption>"Decode order: where (x) each token appeared, and when (y)."</figcaption>
        </figure>
    }
}
