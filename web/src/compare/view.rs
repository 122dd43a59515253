//! What the Compare panel shows: two lanes, each a decode of the same prompt.

use crate::run::RunView;

/// One decode of a comparison.
#[derive(Clone, Debug)]
pub struct Lane {
    pub label: String,
    pub run: RunView,
}

impl Lane {
    /// Milliseconds of forward passes so far.
    pub fn elapsed_ms(&self) -> f64 {
        self.run.steps.iter().map(|s| s.millis).sum()
    }
}

/// What the Compare panel shows: the left-to-right lane, then the settings' lane.
#[derive(Clone, Debug)]
pub struct CompareView {
    pub id: u64,
    pub lanes: [Lane; 2],
}
