//! One component per file; each takes the parts of the page's state it reads (`crate::state`) from the context.

pub mod answer_cells;
pub mod compare_panel;
pub mod controls;
pub mod download;
pub mod editor;
pub mod inspector;
pub mod model_panel;
pub mod order_plot;
pub mod palette;
pub mod solve_panel;
pub mod stats;
pub mod timeline;
pub mod token_grid;
