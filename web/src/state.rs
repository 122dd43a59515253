//! The page's state: signal handles (all `Copy`) in three Leptos contexts, so that each component takes only
//! what it reads — [`RunState`] (what a run needs and writes), [`ViewState`] (how the run on screen is shown)
//! and [`LoadState`] (the page's start-up).

use std::rc::Rc;

use leptos::prelude::*;

use crate::catalog::Catalog;
use crate::compare::view::CompareView;
use crate::loader::Progress;
use crate::run::{Model, RunView};
use crate::settings::Settings;
use crate::solve::view::SolveView;

/// What a run reads and writes: the settings, the model, the run on screen, and when its first step showed.
#[derive(Clone, Copy)]
pub struct RunState {
    pub settings: RwSignal<Settings>,
    /// What a link leaves out means these: the loaded model's recommended settings.
    pub defaults: RwSignal<Settings>,
    pub model: RwSignal<Option<Rc<Model>>, LocalStorage>,
    pub run: RwSignal<RunView>,
    /// The Solve run on screen (Solve mode only); its opened sample is also in `run`.
    pub solve: RwSignal<Option<SolveView>>,
    /// The comparison on screen (Compare mode only); its second lane is also in `run`.
    pub compare: RwSignal<Option<CompareView>>,
    /// The run in charge; bumping it cancels the one in flight.
    pub current_run: RwSignal<u64>,
    /// An event the user should notice now (e.g. a fallback to the CPU).
    pub notice: RwSignal<Option<String>>,
    /// When the page started, and when the first step of a run appeared after it (for the timing line).
    pub opened_ms: f64,
    pub first_frame_ms: RwSignal<Option<f64>>,
    /// When the newest settings change happened, and how long until its run's first step showed.
    pub changed_ms: RwSignal<Option<f64>>,
    pub change_to_frame_ms: RwSignal<Option<f64>>,
}

/// How the run on screen is shown: the replay's position and pace, the colouring, the cell under the pointer.
#[derive(Clone, Copy)]
pub struct ViewState {
    /// Steps shown (0 = the all-masked canvas).
    pub shown: RwSignal<usize>,
    /// The scrubber follows the newest step until the user moves it.
    pub follow: RwSignal<bool>,
    pub playing: RwSignal<bool>,
    /// Replay speed, steps per second.
    pub speed: RwSignal<f64>,
    pub color_by: RwSignal<ColorBy>,
    /// Canvas position under the pointer.
    pub hovered: RwSignal<Option<usize>>,
}

/// The page's start-up: the model list, the download and engine start, and problems that did not stop it.
#[derive(Clone, Copy)]
pub struct LoadState {
    /// The models the site ships (once `models/index.json` is read).
    pub catalog: RwSignal<Option<Catalog>>,
    pub status: RwSignal<LoadStatus>,
    /// Problems that did not stop the page (bad link values, cache trouble, an engine that failed).
    pub warnings: RwSignal<Vec<String>>,
}

/// How tokens are coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorBy {
    Step,
    Confidence,
}

/// The model download, then engine start-up.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadStatus {
    Downloading(Progress),
    Starting(String),
    Ready,
    Failed(String),
}
