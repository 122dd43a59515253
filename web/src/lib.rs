//! The browser playground: a Leptos (CSR) page that downloads a model, runs it on WebGPU (the WGSL engine)
//! or in a Web Worker (the CPU engine), and animates every denoising step.
//!
//! **Invariants:** the UI thread never runs a forward pass (WebGPU work is asynchronous; CPU work is in the
//! worker); the URL holds every setting of the run on screen; a run that has been superseded never publishes
//! a frame; a model file is used only after its size and hash match the manifest.

pub mod app;
pub mod bench;
pub mod catalog;
pub mod compare;
pub mod components;
pub mod engine;
pub mod exchange;
pub mod loader;
pub mod run;
pub mod sandbox;
pub mod settings;
pub mod solve;
pub mod state;
pub mod url;
pub mod worker;

use wasm_bindgen::prelude::*;

/// Runs when the module is initialised: mounts the page into `#unmask-app` when the document has one (the
/// worker has no document; its script calls [`worker::worker_main`]; test pages mount what they test).
#[wasm_bindgen(start)]
pub fn start() {
    let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("unmask-app"));
    if let Some(root) = root {
        app::mount(root.unchecked_into());
    }
}
