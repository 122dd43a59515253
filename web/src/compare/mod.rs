//! Compare mode: the same prompt decoded left to right, one token per forward pass, beside the decode the
//! settings ask for, on the one loaded model. For a mask-gated coder the left-to-right decode is exactly its
//! base model's greedy answer (its clean positions are the base model's), so the two panes are the plain
//! left-to-right model and the diffusion coder made from it.
//!
//! Each step goes to the lane that is behind in its own wall time, so both fill in at their real relative
//! pace, as if each ran alone; the main view follows the second lane.

use std::rc::Rc;

use leptos::prelude::*;
use unmask_sampler::{Algorithm, SamplerConfig};

use crate::run::{Model, RunStatus, RunView, Stepped, advance, finished_trace, ready_engine, start_decode};
use crate::settings::Settings;
use crate::state::RunState;

pub mod view;
pub use view::{CompareView, Lane};

/// The two decodes' settings: left to right with the rest of `settings` (temperature, seed, length), and
/// `settings` as they are.
fn lane_configs(settings: &Settings) -> [(String, SamplerConfig); 2] {
    let chosen = settings.run_config();
    let left_to_right = SamplerConfig { algorithm: Algorithm::LeftToRight, ..chosen.clone() };
    [("Left to right, one token per pass".to_owned(), left_to_right), (settings.strategy.label().to_owned(), chosen)]
}

/// Runs `settings` in Compare mode on `model` as run `id`, publishing into `state.compare` (and the second lane
/// into `state.run`) while `state.current_run` still says `id`.
pub async fn compare(model: Rc<Model>, settings: Settings, id: u64, state: RunState) {
    let live = move || state.current_run.get_untracked() == id;
    let configs = lane_configs(&settings);
    let mut started = Vec::new();
    for (_, config) in &configs {
        match start_decode(&model, &settings.prompt, config) {
            Ok(decode) => started.push(decode),
            Err(message) => {
                state.compare.set(None);
                return state.run.set(RunView { id, ..RunView::idle(RunStatus::Error, message) });
            }
        }
    }
    let engine = model.engines.active();
    let lanes = configs.iter().zip(&started).map(|((label, _), (prompt, decode))| Lane {
        label: label.clone(),
        run: RunView::starting(id, prompt, decode.canvas().to_vec(), engine),
    });
    let lanes: [Lane; 2] = lanes.collect::<Vec<_>>().try_into().expect("two lanes");
    let view = CompareView { id, lanes };
    state.run.set(view.lanes[1].run.clone());
    state.compare.set(Some(view));
    if !ready_engine(&model, &live, state.run, state.notice).await {
        return;
    }
    let mut running = [true, true];
    // The lane behind in its own wall time goes next.
    while let Some(i) = (0..2).filter(|&i| running[i]).min_by(|&a, &b| elapsed(state, a).total_cmp(&elapsed(state, b)))
    {
        match advance(&model, &mut started[i].1, &live, state.run, state.notice).await {
            Ok(Stepped::Step(step, scored)) => publish(state, i, |run| run.record(step.clone(), &scored)),
            Ok(Stepped::Finished) => running[i] = false,
            Ok(Stepped::Superseded) => return,
            Err(message) => {
                let message = format!("{}: {message}", configs[i].0);
                publish(state, i, |run| {
                    run.status = RunStatus::Error;
                    run.message = message.clone();
                });
                return;
            }
        }
        gloo_timers::future::TimeoutFuture::new(0).await;
        if !live() {
            return;
        }
    }
    for (i, (prompt, decode)) in started.into_iter().enumerate() {
        let trace = finished_trace(&model, decode, &settings.prompt, &configs[i].1, prompt.ids.len());
        publish(state, i, |run| {
            run.status = RunStatus::Done;
            run.trace = Some(trace.clone());
        });
    }
}

fn elapsed(state: RunState, lane: usize) -> f64 {
    state.compare.with_untracked(|c| c.as_ref().map_or(0.0, |c| c.lanes[lane].elapsed_ms()))
}

/// Applies `change` to lane `i`'s run, and to the main view's when it is the second lane.
fn publish(state: RunState, i: usize, change: impl Fn(&mut RunView)) {
    state.compare.update(|c| {
        if let Some(c) = c {
            change(&mut c.lanes[i].run);
        }
    });
    if i == 1 {
        state.run.update(change);
    }
}
