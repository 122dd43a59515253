//! The prompt: a code editor with built-in examples and a button that inserts a mask hole at the cursor.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::settings::EXAMPLES;
use crate::state::RunState;

/// What the tokenizer reads as one masked position.
const HOLE: &str = "<|mask|>";

#[component]
pub fn Editor() -> impl IntoView {
    let state = expect_context::<RunState>();
    let textarea = NodeRef::<leptos::html::Textarea>::new();
    let insert_hole = move |_| {
        let Some(area) = textarea.get() else { return };
        let area: web_sys::HtmlTextAreaElement = area.unchecked_into();
        let text = area.value();
        // Selection offsets are UTF-16 units; convert to a char boundary.
        let at = area.selection_start().ok().flatten().unwrap_or(text.encode_utf16().count() as u32) as usize;
        let byte = utf16_to_byte(&text, at);
        let updated = format!("{}{HOLE}{}", &text[..byte], &text[byte..]);
        state.settings.update(|s| s.prompt = updated);
    };
    view! {
        <div class="editor">
            <label for="prompt">"Prompt"</label>
            <div class="editor-tools">
                <select id="examples" aria-label="Examples" on:change=move |ev| {
                    let index: usize = event_target_value(&ev).parse().unwrap_or(usize::MAX);
                    if let Some((_, prompt)) = EXAMPLES.get(index) {
                        state.settings.update(|s| s.prompt = (*prompt).to_owned());
                    }
                }>
                    <option value="">"Examples…"</option>
                    {EXAMPLES.iter().enumerate().map(|(i, (name, _))| view! { <option value=i.to_string()>{*name}</option> }).collect_view()}
                </select>
                <button id="insert-hole" on:click=insert_hole title="Insert a masked position at the cursor: the model fills it in (infilling)">
                    "Insert hole " <code>{HOLE}</code>
                </button>
            </div>
            <textarea
                id="prompt"
                node_ref=textarea
                spellcheck="false"
                rows="9"
                prop:value=move || state.settings.with(|s| s.prompt.clone())
                on:input=move |ev| state.settings.update(|s| s.prompt = event_target_value(&ev))
            ></textarea>
            <p class="hint">"The model completes the text after the prompt; each " <code>{HOLE}</code> " in the prompt is one more token for it to fill."</p>
        </div>
    }
}

fn utf16_to_byte(text: &str, units: usize) -> usize {
    let mut seen = 0;
    for (byte, c) in text.char_indices() {
        if seen >= units {
            return byte;
        }
        seen += c.len_utf16();
    }
    text.len()
}
