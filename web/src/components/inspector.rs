//! Details of the token under the pointer: when it was decoded, how sure the model was, and the candidates
//! it weighed at that position.

use leptos::prelude::*;

use crate::state::{RunState, ViewState};

#[component]
pub fn Inspector() -> impl IntoView {
    let state = expect_context::<RunState>();
    let display = expect_context::<ViewState>();
    let details = move || {
        let position = display.hovered.get()?;
        let model = state.model.get()?;
        state.run.with(|r| {
            let relative = position as i64 - r.prompt_len as i64;
            let Some(scored) = r.scored.get(position)?.as_ref() else {
                let what = if r.was_masked(position, model.config.mask_token_id) { "still masked" } else { "prompt token" };
                return Some(view! { <p>{format!("position {relative}: {what}")}</p> }.into_any());
            };
            let step = r.decoded_at[position].unwrap_or(0);
            // Different ids can decode to the same text; the id tells them apart.
            let text = |t: u32| format!("{:?} #{t}", model.token_text.get(t as usize).cloned().unwrap_or_default());
            Some(view! {
                <p>{format!("position {relative} · decoded at step {} · score {:.3}", step + 1, scored.proposal.score)}</p>
                <table class="candidates">
                    <tr><th>"candidate"</th><th>"probability"</th></tr>
                    {scored.candidates.iter().map(|&(token, p)| view! {
                        <tr class:chosen=token == scored.proposal.token>
                            <td><code>{text(token)}</code></td>
                            <td>{format!("{:.1} %", 100.0 * p)}</td>
                        </tr>
                    }).collect_view()}
                </table>
            }.into_any())
        })
    };
    view! {
        <div class="inspector">
            <h3>"Token"</h3>
            {move || details().unwrap_or_else(|| view! { <p class="hint">"Point at a token to see the candidates the model weighed."</p> }.into_any())}
        </div>
    }
}
