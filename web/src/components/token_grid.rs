//! The canvas as a grid of token cells, as it stood after the scrubber's step: prompt tokens dim, masked
//! cells as blocks, decoded ones coloured by the step that decoded them (or by confidence), the step's new
//! tokens highlighted. Cells carry `data-pos` (position relative to the answer's start) and, once decoded,
//! `data-step`; tests and the decode-order plot read the same numbers.

use leptos::prelude::*;

use crate::components::palette;
use crate::run::RunStatus;
use crate::state::{ColorBy, RunState, ViewState};

/// What a masked cell shows.
const MASKED: &str = "░░";
/// What an end-of-text token shows.
const END: &str = "·";

#[component]
pub fn TokenGrid() -> impl IntoView {
    let state = expect_context::<RunState>();
    // Cells are rebuilt only when a new run changes the canvas; each cell then follows the steps itself.
    let cells = Memo::new(move |_| state.run.with(|r| (r.id, r.shown_from, r.initial.len())));
    view! {
        <div class="status" data-state=move || state.run.with(|r| r.status.id())>
            {move || state.run.with(|r| match r.status {
                RunStatus::Loading => "loading the model…".to_owned(),
                RunStatus::Running if r.steps.is_empty() => r.message.clone(),
                RunStatus::Running => format!("step {} · {} masked", r.steps.len(), r.masked_left()),
                RunStatus::Done if r.masked_left() > 0 => format!(
                    "done: {} steps, stopped at the answer's end (the {} cells after it stay masked)",
                    r.steps.len(),
                    r.masked_left()
                ),
                RunStatus::Done => format!("done: {} steps", r.steps.len()),
                RunStatus::Error => r.message.clone(),
            })}
        </div>
        <Legend/>
        <div class="grid" aria-label="The canvas, token by token">
            {move || {
                let (_, from, n) = cells.get();
                (from..n).map(|q| view! { <Cell position=q/> }).collect_view()
            }}
        </div>
    }
}

#[component]
fn Cell(position: usize) -> impl IntoView {
    let state = expect_context::<RunState>();
    let display = expect_context::<ViewState>();
    move || {
        let shown = display.shown.get();
        let color_by = display.color_by.get();
        let model = state.model.get()?;
        let mask = model.config.mask_token_id;
        state.run.with(|r| {
            let token = r.token_at(position, shown, mask);
            let answer = r.was_masked(position, mask);
            let step = r.decoded_at.get(position).copied().flatten().filter(|&s| (s as usize) < shown);
            let text = match token {
                None => MASKED.to_owned(),
                Some(t) if model.is_end(t) => END.to_owned(),
                Some(t) => model.token_text.get(t as usize).cloned().unwrap_or_default(),
            };
            // The cell keeps its real line breaks (white-space: pre), each marked with a visible ↵.
            let visible = text.replace('\n', "↵\n");
            let class = match (answer, step) {
                (false, _) => "tok prompt",
                (true, None) => "tok masked",
                (true, Some(s)) if s as usize + 1 == shown => "tok decoded new",
                (true, Some(_)) => "tok decoded",
            };
            let style = step.map(|s| {
                let t = match color_by {
                    ColorBy::Step => palette::step_position(s, r.steps.len()),
                    ColorBy::Confidence => confidence(r, position).unwrap_or(0.0),
                };
                format!("background: {}", palette::scale(t))
            });
            let pos = answer.then(|| (position as i64 - r.prompt_len as i64).to_string());
            Some(view! {
                <span
                    class=class
                    data-pos=pos
                    data-step=step.map(|s| s.to_string())
                    style=style
                    on:mouseenter=move |_| display.hovered.set(Some(position))
                >{visible}</span>
            })
        })
    }
}

/// The probability the model gave the token it committed at `position`.
pub fn confidence(run: &crate::run::RunView, position: usize) -> Option<f64> {
    let scored = run.scored.get(position)?.as_ref()?;
    let token = scored.proposal.token;
    Some(scored.candidates.iter().find(|c| c.0 == token).map_or(0.0, |c| c.1 as f64))
}

#[component]
fn Legend() -> impl IntoView {
    let state = expect_context::<RunState>();
    let display = expect_context::<ViewState>();
    let labels = move || match display.color_by.get() {
        ColorBy::Step => ("first step".to_owned(), format!("step {}", state.run.with(|r| r.steps.len().max(1)))),
        ColorBy::Confidence => ("probability 0".to_owned(), "1".to_owned()),
    };
    view! {
        <div class="legend">
            <span>{move || labels().0}</span>
            <span class="scale" style=format!("background: {}", palette::gradient())></span>
            <span>{move || labels().1}</span>
            <span class="tok masked sample">{MASKED}</span><span>"masked"</span>
            <span class="tok decoded new sample">"new"</span><span>"decoded at the step shown"</span>
        </div>
    }
}
