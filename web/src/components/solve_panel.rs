//! Solve mode's panel: the examples found in the docstring, a grid of small canvases decoding side by side
//! (coloured by step as the main grid is), then each sample's verdict from the sandbox, its behaviour group and
//! the chosen answer. A click opens a sample in the main view. Cards carry `data-verdict` (`pending`, `pass`,
//! `fail`) and, for survivors, `data-group` (0 = the largest group); the e2e test reads them.

use leptos::prelude::*;
use unmask_solve::job::{ErrorKind, Outcome};

use crate::components::answer_cells::answer_cells;
use crate::components::download::save_json;
use crate::solve::{Sample, SolvePhase, SolveView, open_sample};
use crate::state::{RunState, ViewState};

#[component]
pub fn SolvePanel() -> impl IntoView {
    let state = expect_context::<RunState>();
    // Cards are rebuilt only when a new Solve run starts; each then follows its own sample.
    let cards = Memo::new(move |_| state.solve.with(|s| s.as_ref().map(|s| (s.id, s.samples.len()))));
    move || {
        let (_, n) = cards.get()?;
        Some(view! {
            <section class="solve" aria-label="Solve: samples judged on the docstring's examples">
                <div class="solve-status" data-state=move || state.solve.with(|s| s.as_ref().map(|s| s.phase.id()))>
                    {move || state.solve.with(|s| s.as_ref().map(status))}
                </div>
                <p class="solve-examples">{move || state.solve.with(|s| s.as_ref().map(examples_line))}</p>
                <button
                    id="download-solve"
                    disabled=move || state.solve.with(|s| s.as_ref().is_none_or(|s| s.phase != SolvePhase::Done))
                    on:click=move |_| {
                        if let Some(report) = state.solve.with_untracked(|s| s.as_ref().map(SolveView::report)) {
                            save_json("unmask-solve.json", serde_json::to_string_pretty(&report).unwrap_or_default());
                        }
                    }
                >"Download samples (JSON)"</button>
                <div class="samples">{(0..n).map(|i| view! { <Card index=i/> }).collect_view()}</div>
            </section>
        })
    }
}

/// One line on where the run is, or what it found.
fn status(s: &SolveView) -> String {
    let n = s.samples.len();
    let (parses, passes) = s.counts();
    match s.phase {
        SolvePhase::Decoding => {
            let step = s.samples.iter().map(|x| x.run.steps.len()).max().unwrap_or(0);
            let masked: usize = s.samples.iter().map(|x| x.run.masked_left()).sum();
            if step == 0 {
                format!("decoding {n} samples together…")
            } else {
                format!("decoding {n} samples together: step {step} · {masked} cells still masked")
            }
        }
        SolvePhase::Judging => {
            let judged = s.samples.iter().filter(|x| x.outcome.is_some()).count();
            format!(
                "running the examples in the sandbox (Python in a worker): {judged} of {n} · {parses} parse, {passes} pass"
            )
        }
        SolvePhase::Done => {
            let Some(choice) = &s.choice else { return String::new() };
            let groups = match choice.groups.first() {
                Some(largest) => format!(
                    ", {} behaviour group{} (largest {})",
                    choice.groups.len(),
                    if choice.groups.len() == 1 { "" } else { "s" },
                    largest.len()
                ),
                None => String::new(),
            };
            let chosen = match choice.chosen.first() {
                Some(&c) if !choice.groups.is_empty() => format!("chosen: #{} (group A)", c + 1),
                Some(&c) => format!("none passed: showing #{}, the closest", c + 1),
                None => String::new(),
            };
            format!(
                "{n} samples: {parses} parse, {passes} pass the examples{groups} · {chosen} · decoded in {:.1} s, judged in {:.1} s",
                s.decode_ms / 1e3,
                s.judge_ms / 1e3
            )
        }
        SolvePhase::Error => s.message.clone(),
    }
}

/// The examples the samples are judged on.
fn examples_line(s: &SolveView) -> String {
    if s.phase == SolvePhase::Error && s.samples.is_empty() {
        return String::new();
    }
    if s.examples.is_empty() {
        return "No examples in the docstring (`>>> f(x)` then the result, or `f(x) == y`): samples are judged on \
                whether they parse and run."
            .into();
    }
    let stated: Vec<String> = s.examples.iter().map(|e| format!("{} → {}", e.call, e.expected)).collect();
    format!("Judged on {} · grouped by their outputs on {} derived inputs", stated.join(" · "), s.probes)
}

#[component]
fn Card(index: usize) -> impl IntoView {
    let state = expect_context::<RunState>();
    let display = expect_context::<ViewState>();
    let sample = move |f: &dyn Fn(&Sample, &SolveView) -> String| {
        state.solve.with(|s| s.as_ref().and_then(|s| s.samples.get(index).map(|x| f(x, s)))).unwrap_or_default()
    };
    let verdict = move || {
        sample(&|x, _| match &x.outcome {
            None => "pending".into(),
            Some(o) if o.passed() => "pass".into(),
            Some(_) => "fail".into(),
        })
    };
    let group = move || {
        state
            .solve
            .with(|s| s.as_ref().and_then(|s| s.choice.as_ref()).and_then(|c| c.group_of.get(index).copied().flatten()))
    };
    let chosen = move || {
        state
            .solve
            .with(|s| s.as_ref().and_then(|s| s.choice.as_ref()).is_some_and(|c| c.chosen.first() == Some(&index)))
    };
    let opened = move || state.solve.with(|s| s.as_ref().is_some_and(|s| s.opened == index));
    view! {
        <button
            class="candidate"
            class:chosen=chosen
            class:opened=opened
            data-verdict=verdict
            data-group=move || group().map(|g| g.to_string())
            title="Open this sample in the main view"
            on:click=move |_| open_sample(state, display, index)
        >
            <div class="candidate-head">
                <span>{move || sample(&|x, _| format!("#{} · seed {}", index + 1, x.seed))}</span>
                <span class="mark">{move || {
                    let mut mark = sample(&|x, s| mark(x.outcome.as_ref(), s));
                    if let Some(g) = group() {
                        mark.push_str(&format!(" · group {}", group_name(g)));
                    }
                    if chosen() {
                        mark.push_str(" · ★ chosen");
                    }
                    mark
                }}</span>
            </div>
            <MiniCanvas index=index/>
        </button>
    }
}

/// A sample's verdict in words.
fn mark(outcome: Option<&Outcome>, s: &SolveView) -> String {
    let Some(o) = outcome else {
        return if s.phase == SolvePhase::Decoding {
            "decoding…".into()
        } else {
            "waiting for the sandbox…".into()
        };
    };
    let detail = o.detail.clone().unwrap_or_default();
    match o.error {
        None if o.examples.is_empty() => "✓ runs".into(),
        None => format!("✓ passes {0}/{0}", o.examples.len()),
        Some(ErrorKind::Syntax) => "✗ does not parse".into(),
        Some(ErrorKind::Timeout) => "✗ timed out".into(),
        Some(ErrorKind::Exception) => format!("✗ raises {detail}"),
        Some(ErrorKind::WrongAnswer) => format!("✗ {detail}"),
    }
}

/// Groups are named A, B, C… by size.
fn group_name(rank: usize) -> String {
    match u8::try_from(rank).ok().filter(|&r| r < 26) {
        Some(r) => char::from(b'A' + r).to_string(),
        None => format!("{}", rank + 1),
    }
}

/// The sample's answer cells as they stand.
#[component]
fn MiniCanvas(index: usize) -> impl IntoView {
    let state = expect_context::<RunState>();
    move || {
        let model = state.model.get()?;
        state.solve.with(|s| {
            let run = &s.as_ref()?.samples.get(index)?.run;
            Some(view! { <div class="mini">{answer_cells(&model, run)}</div> })
        })
    }
}
