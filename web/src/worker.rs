//! The CPU engine in a Web Worker: the message protocol, the worker's side (`worker_main`, started by
//! `worker.js`) and the page's side ([`WorkerEngine`]).
//!
//! Messages are `[json, bytes…]` arrays: the JSON is a [`ToWorker`] / [`FromWorker`], the slots after it carry
//! a load's weight files (transferred buffers, never JSON; a shared base's and the model's own). Every request
//! has an id and gets exactly one reply with that id, so a reply to a cancelled run is simply never awaited.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Uint8Array};
use serde::{Deserialize, Serialize};
use unmask_fast::{FastModel, FastOptions};
use unmask_model::{ModelConfig, Weights};
use unmask_sampler::{BatchItem, CANDIDATES, ProposalRule, Scored, StepKey};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::settings::page_context;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Load the model; its weight files travel in the message's next slots, one per name in `files`.
    Load { id: u64, config_json: String, files: Vec<String> },
    /// One step of one or more canvases (a Solve run's samples), answered by one forward pass over them all.
    Propose { id: u64, items: Vec<StepItem> },
}

/// One canvas of a [`ToWorker::Propose`]: what `unmask_sampler::BatchItem` borrows, owned for the message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepItem {
    pub canvas: Vec<u32>,
    pub positions: Vec<u32>,
    pub rule: ProposalRule,
    pub key: StepKey,
}

impl StepItem {
    pub fn borrow(&self) -> BatchItem<'_> {
        BatchItem { canvas: &self.canvas, positions: &self.positions, rule: self.rule, key: self.key }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    Loaded {
        id: u64,
    },
    /// One list per item of the request, in its order.
    Proposals {
        id: u64,
        proposals: Vec<Vec<Scored>>,
    },
    Failed {
        id: u64,
        message: String,
    },
}

impl FromWorker {
    fn id(&self) -> u64 {
        match self {
            FromWorker::Loaded { id } | FromWorker::Proposals { id, .. } | FromWorker::Failed { id, .. } => *id,
        }
    }
}

/// The worker's state: the model once loaded.
#[derive(Default)]
pub struct WorkerState {
    model: Option<FastModel>,
}

impl WorkerState {
    /// Answers one request. Plain Rust, so the protocol is tested without a worker.
    pub fn handle(&mut self, request: ToWorker, buffers: Vec<Vec<u8>>) -> FromWorker {
        match request {
            ToWorker::Load { id, config_json, files } => {
                let loaded = (|| {
                    if files.is_empty() || files.len() != buffers.len() {
                        return Err(format!("{} weight files named, {} sent", files.len(), buffers.len()));
                    }
                    let config = ModelConfig::from_json(&config_json, "config.json").map_err(|e| e.to_string())?;
                    let weights =
                        Weights::from_bytes(files.into_iter().zip(buffers).collect()).map_err(|e| e.to_string())?;
                    // One thread: a worker has no threads of its own (wasm without atomics).
                    let options = FastOptions { threads: 1, max_len: page_context(&config), ..FastOptions::default() };
                    FastModel::load(&config, &weights, options).map_err(|e| e.to_string())
                })();
                match loaded {
                    Ok(model) => {
                        self.model = Some(model);
                        FromWorker::Loaded { id }
                    }
                    Err(message) => FromWorker::Failed { id, message },
                }
            }
            ToWorker::Propose { id, items } => match &mut self.model {
                None => FromWorker::Failed { id, message: "the worker has no model loaded".into() },
                Some(model) => match model
                    .propose_scored_batch(&items.iter().map(StepItem::borrow).collect::<Vec<_>>(), CANDIDATES)
                {
                    Ok(proposals) => FromWorker::Proposals { id, proposals },
                    Err(e) => FromWorker::Failed { id, message: e.to_string() },
                },
            },
        }
    }
}

/// The worker's entry point (called by `worker.js` after the module is initialised).
#[wasm_bindgen]
pub fn worker_main() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply_to = scope.clone();
    let mut state = WorkerState::default();
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        let message = Array::from(&event.data());
        let reply = match serde_json::from_str::<ToWorker>(&message.get(0).as_string().unwrap_or_default()) {
            Ok(request) => {
                let buffers = (1..message.length())
                    .filter_map(|slot| message.get(slot).dyn_into::<Uint8Array>().ok())
                    .map(|b| b.to_vec())
                    .collect();
                state.handle(request, buffers)
            }
            Err(e) => FromWorker::Failed { id: 0, message: format!("unreadable request: {e}") },
        };
        let json = serde_json::to_string(&reply).expect("replies serialise");
        let _ = reply_to.post_message(&JsValue::from_str(&json));
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
}

/// Why the CPU worker could not start, load the model or answer a step.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot start the CPU worker: {0}")]
    Start(String),
    #[error("the CPU worker could not load the model: {0}")]
    Load(String),
    /// The engine in the worker failed; its error crossed the worker boundary as text.
    #[error("{0}")]
    Engine(String),
    #[error("the CPU worker answered {answered} of {asked} canvases")]
    Short { answered: usize, asked: usize },
    #[error("unexpected reply from the CPU worker: {0}")]
    Protocol(String),
}

type Pending = Rc<RefCell<HashMap<u64, Function>>>;

/// The page's handle on the worker. Dropping it terminates the worker.
pub struct WorkerEngine {
    worker: web_sys::Worker,
    pending: Pending,
    next_id: Cell<u64>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl WorkerEngine {
    /// Starts the worker script at `script_url` and loads the model in it. The weight files move to the worker
    /// (their buffers are transferred, not copied; the page's handles are empty afterwards).
    pub async fn start(
        script_url: &str,
        config_json: &str,
        weights: Vec<(String, Uint8Array)>,
    ) -> Result<WorkerEngine, WorkerError> {
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options(script_url, &options)
            .map_err(|e| WorkerError::Start(crate::loader::js_error(e)))?;
        let pending: Pending = Rc::default();
        let on_message = {
            let pending = pending.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let json = event.data().as_string().unwrap_or_default();
                let id = serde_json::from_str::<FromWorker>(&json).map(|r| r.id()).unwrap_or(0);
                if let Some(resolve) = pending.borrow_mut().remove(&id) {
                    let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(&json));
                }
            })
        };
        // A crashed worker answers every waiting request with its error instead of leaving it hanging.
        let on_error = {
            let pending = pending.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                let message = js_sys::Reflect::get(&event, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| "the CPU worker crashed".into());
                for (id, resolve) in pending.borrow_mut().drain() {
                    let reply = FromWorker::Failed { id, message: message.clone() };
                    let json = serde_json::to_string(&reply).expect("replies serialise");
                    let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(&json));
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let engine =
            WorkerEngine { worker, pending, next_id: Cell::new(1), _on_message: on_message, _on_error: on_error };
        let id = engine.next_id();
        let (files, buffers) = weights.into_iter().unzip();
        match engine.request(id, &ToWorker::Load { id, config_json: config_json.into(), files }, buffers).await? {
            FromWorker::Loaded { .. } => Ok(engine),
            FromWorker::Failed { message, .. } => Err(WorkerError::Load(message)),
            other => Err(WorkerError::Protocol(format!("{other:?}"))),
        }
    }

    /// Proposals for every item, from one forward pass over them all.
    pub async fn propose(&self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<Scored>>, WorkerError> {
        let id = self.next_id();
        let items: Vec<StepItem> = items
            .iter()
            .map(|i| StepItem { canvas: i.canvas.to_vec(), positions: i.positions.to_vec(), rule: i.rule, key: i.key })
            .collect();
        let asked = items.len();
        match self.request(id, &ToWorker::Propose { id, items }, Vec::new()).await? {
            FromWorker::Proposals { proposals, .. } if proposals.len() == asked => Ok(proposals),
            FromWorker::Proposals { proposals, .. } => Err(WorkerError::Short { answered: proposals.len(), asked }),
            FromWorker::Failed { message, .. } => Err(WorkerError::Engine(message)),
            other => Err(WorkerError::Protocol(format!("{other:?}"))),
        }
    }

    fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    async fn request(&self, id: u64, request: &ToWorker, buffers: Vec<Uint8Array>) -> Result<FromWorker, WorkerError> {
        let pending = self.pending.clone();
        let reply = Promise::new(&mut |resolve, _reject| {
            pending.borrow_mut().insert(id, resolve);
        });
        let message = Array::new();
        message.push(&JsValue::from_str(&serde_json::to_string(request).expect("requests serialise")));
        let transfer = Array::new();
        for buffer in &buffers {
            message.push(buffer);
            transfer.push(&buffer.buffer());
        }
        self.worker
            .post_message_with_transfer(&message, &transfer)
            .map_err(|e| WorkerError::Protocol(crate::loader::js_error(e)))?;
        let json = JsFuture::from(reply).await.map_err(|e| WorkerError::Protocol(crate::loader::js_error(e)))?;
        serde_json::from_str(&json.as_string().unwrap_or_default())
            .map_err(|e| WorkerError::Protocol(format!("unreadable reply: {e}")))
    }
}

impl Drop for WorkerEngine {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
