//! The CPU engine in a Web Worker: the message protocol, the worker's side (`worker_main`, started by
//! `worker.js`) and the page's side ([`WorkerEngine`]).
//!
//! Messages are `[json, bytes…]` arrays: the JSON is a [`ToWorker`] / [`FromWorker`], the slots after it carry
//! a load's weight files (buffers, never JSON; a shared base's and the model's own) and, for a pool of
//! workers, the pool's shared buffers (`exchange.rs`). Every request has an id and gets exactly one reply with
//! that id, so a reply to a cancelled run is simply never awaited.
//!
//! A pool is several workers, each with one shard of the model (`unmask_fast::Shard`): the page sends every
//! request to all of them, they compute each product's columns side by side, and the first worker's reply is
//! the answer.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Uint8Array};
use serde::{Deserialize, Serialize};
use unmask_fast::{Exchange, FastModel, FastOptions, Shard};
use unmask_model::{ByteSource, FileBytes, ModelConfig, Weights};
use unmask_sampler::{BatchItem, CANDIDATES, ProposalRule, Scored, StepKey};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::exchange::{SharedBuffers, SharedExchange, shared_memory};
use crate::settings::page_context;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Load the model (or, in a pool, the shard `shard`); its weight files travel in the message's next slots,
    /// one per name in `files`.
    Load {
        id: u64,
        config_json: String,
        files: Vec<String>,
        #[serde(default)]
        shard: Option<ShardOf>,
    },
    /// One step of one or more canvases (a Solve run's samples), answered by one forward pass over them all.
    Propose { id: u64, items: Vec<StepItem> },
}

/// Which worker of a pool: shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardOf {
    pub index: usize,
    pub count: usize,
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

/// The worker's state: the model once loaded, and a pool's exchange until its shard is loaded.
#[derive(Default)]
pub struct WorkerState {
    model: Option<FastModel>,
    exchange: Option<Box<dyn Exchange>>,
}

impl WorkerState {
    /// The exchange the next shard's [`ToWorker::Load`] runs over (it came with that message).
    pub fn attach_exchange(&mut self, exchange: Box<dyn Exchange>) {
        self.exchange = Some(exchange);
    }

    /// Answers one request. Plain Rust, so the protocol is tested without a worker.
    pub fn handle(&mut self, request: ToWorker, buffers: Vec<FileBytes>) -> FromWorker {
        match request {
            ToWorker::Load { id, config_json, files, shard } => {
                let loaded = (|| {
                    if files.is_empty() || files.len() != buffers.len() {
                        return Err(format!("{} weight files named, {} sent", files.len(), buffers.len()));
                    }
                    let config = ModelConfig::from_json(&config_json, "config.json").map_err(|e| e.to_string())?;
                    let weights = Weights::from_file_bytes(files.into_iter().zip(buffers).collect())
                        .map_err(|e| e.to_string())?;
                    // One thread: a worker has no threads of its own (wasm without atomics); a pool has workers.
                    let options = FastOptions { threads: 1, max_len: page_context(&config), ..FastOptions::default() };
                    match shard {
                        None => FastModel::load(&config, &weights, options),
                        Some(ShardOf { index, count }) => {
                            let exchange = self.exchange.take().ok_or("a shard came without the pool's buffers")?;
                            FastModel::load_shard(&config, &weights, options, Shard { index, count }, exchange)
                        }
                    }
                    .map_err(|e| e.to_string())
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
                let slots: Vec<JsValue> = (1..message.length()).map(|slot| message.get(slot)).collect();
                // The files stay JavaScript buffers, read a tensor at a time while the model loads: the
                // worker's memory (which never shrinks) holds the model, never a whole file beside it.
                let buffers = slots
                    .iter()
                    .filter_map(|b| b.dyn_ref::<Uint8Array>())
                    .map(|file| sent_file(file.clone()))
                    .collect();
                let control = slots.iter().find_map(|b| b.dyn_ref::<js_sys::Int32Array>().cloned());
                let data = slots.iter().find_map(|b| b.dyn_ref::<js_sys::Float32Array>().cloned());
                if let (ToWorker::Load { shard: Some(ShardOf { index, count }), .. }, Some(control), Some(data)) =
                    (&request, control, data)
                {
                    let buffers = SharedBuffers { control, data };
                    state.attach_exchange(Box::new(SharedExchange::new(*index, *count, buffers)));
                }
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

/// A weight file as the page sent it (transferred to this worker, or shared by a pool's workers), for
/// [`WorkerState::handle`]: read a tensor at a time.
pub fn sent_file(bytes: Uint8Array) -> FileBytes {
    FileBytes::Source(Box::new(SentFile(bytes)))
}

struct SentFile(Uint8Array);

// SAFETY: this crate's wasm has no threads, so the JavaScript handle is only ever touched from the one thread
// of its instance; `ByteSource` asks for `Send + Sync` for the native engines' threads.
#[allow(unsafe_code)]
unsafe impl Send for SentFile {}
#[allow(unsafe_code)]
unsafe impl Sync for SentFile {}

impl ByteSource for SentFile {
    fn size(&self) -> usize {
        self.0.length() as usize
    }

    fn read(&self, range: std::ops::Range<usize>) -> Vec<u8> {
        self.0.subarray(range.start as u32, range.end as u32).to_vec()
    }
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

/// The replies owed, by (request id, worker): resolving one hands its JSON to the awaiting step.
type Pending = Rc<RefCell<HashMap<(u64, usize), Function>>>;

/// Hands worker `from`'s reply `json` to request `id`. A failure is every worker's answer to that request: the
/// others may be waiting for the failed one in an exchange, and the step must not wait for them.
fn settle(pending: &Pending, id: u64, from: usize, failed: bool, json: &str) {
    let resolves: Vec<Function> = {
        let mut pending = pending.borrow_mut();
        let keys: Vec<_> = pending.keys().filter(|(i, w)| *i == id && (failed || *w == from)).copied().collect();
        keys.iter().filter_map(|key| pending.remove(key)).collect()
    };
    for resolve in resolves {
        let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(json));
    }
}

/// The page's handle on the worker, or on a pool of workers that each hold a shard of the model. Dropping it
/// terminates them.
pub struct WorkerEngine {
    members: Vec<Member>,
    next_id: Cell<u64>,
}

/// One worker of the engine and where its replies go.
struct Member {
    worker: web_sys::Worker,
    index: usize,
    pending: Pending,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl WorkerEngine {
    /// Starts `workers` workers of the script at `script_url` and sends them the model: whole to one worker,
    /// which takes the weight files' buffers themselves (transferred, not copied; the page's handles are empty
    /// afterwards), or one shard to each of several, which read one shared copy of the files (made here, since
    /// a buffer moves to one worker only) and swap columns through `exchange.rs`. The workers load while the
    /// page goes on; [`Starting::loaded`] waits for them.
    pub fn start(
        script_url: &str,
        config_json: &str,
        weights: Vec<(String, Uint8Array)>,
        workers: usize,
    ) -> Result<Starting, WorkerError> {
        let count = workers.max(1);
        let pending = Pending::default();
        let members =
            (0..count).map(|index| Member::start(script_url, index, &pending)).collect::<Result<Vec<_>, _>>()?;
        let engine = WorkerEngine { members, next_id: Cell::new(1) };
        let id = engine.next_id();
        let (files, buffers): (Vec<String>, Vec<Uint8Array>) = weights.into_iter().unzip();
        let replies = if count == 1 {
            let load = ToWorker::Load { id, config_json: config_json.into(), files, shard: None };
            let slots: Vec<JsValue> = buffers.iter().map(JsValue::from).collect();
            let transfer = buffers.iter().map(|b| b.buffer().into()).collect();
            vec![engine.members[0].request(id, &load, &slots, transfer)?]
        } else {
            let shared = buffers.iter().map(shared_copy).collect::<Result<Vec<_>, _>>()?;
            drop(buffers);
            let exchange = SharedBuffers::new().map_err(WorkerError::Start)?;
            let mut slots: Vec<JsValue> = shared.iter().map(JsValue::from).collect();
            slots.extend([JsValue::from(&exchange.control), JsValue::from(&exchange.data)]);
            (0..count)
                .map(|index| {
                    let shard = Some(ShardOf { index, count });
                    let load = ToWorker::Load { id, config_json: config_json.into(), files: files.clone(), shard };
                    engine.members[index].request(id, &load, &slots, Vec::new())
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(Starting { engine, replies })
    }

    /// Workers the model runs on (shards of a pool, or one).
    pub fn workers(&self) -> usize {
        self.members.len()
    }

    /// Proposals for every item, from one forward pass over them all.
    pub async fn propose(&self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<Scored>>, WorkerError> {
        let id = self.next_id();
        let items: Vec<StepItem> = items
            .iter()
            .map(|i| StepItem { canvas: i.canvas.to_vec(), positions: i.positions.to_vec(), rule: i.rule, key: i.key })
            .collect();
        let asked = items.len();
        let request = ToWorker::Propose { id, items };
        let replies =
            self.members.iter().map(|m| m.request(id, &request, &[], Vec::new())).collect::<Result<Vec<_>, _>>()?;
        // Every worker answers (the pool's others with no proposals): a failure anywhere is the step's.
        let mut answer = None;
        for reply in replies {
            match answer_of(reply).await? {
                FromWorker::Proposals { proposals, .. } => {
                    answer.get_or_insert(proposals);
                }
                FromWorker::Failed { message, .. } => return Err(WorkerError::Engine(message)),
                other => return Err(WorkerError::Protocol(format!("{other:?}"))),
            }
        }
        match answer {
            Some(proposals) if proposals.len() == asked => Ok(proposals),
            Some(proposals) => Err(WorkerError::Short { answered: proposals.len(), asked }),
            None => Err(WorkerError::Protocol("no worker answered".into())),
        }
    }

    fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }
}

/// Workers given the model and loading it (dropping this terminates them).
pub struct Starting {
    engine: WorkerEngine,
    replies: Vec<Promise>,
}

impl Starting {
    /// The engine, once every worker has loaded its part of the model.
    pub async fn loaded(self) -> Result<WorkerEngine, WorkerError> {
        for reply in self.replies {
            match answer_of(reply).await? {
                FromWorker::Loaded { .. } => {}
                FromWorker::Failed { message, .. } => return Err(WorkerError::Load(message)),
                other => return Err(WorkerError::Protocol(format!("{other:?}"))),
            }
        }
        Ok(self.engine)
    }
}

/// A copy of `bytes` in shared memory, which every worker of a pool can read.
fn shared_copy(bytes: &Uint8Array) -> Result<Uint8Array, WorkerError> {
    let copy = Uint8Array::new(&shared_memory(bytes.length() as usize).map_err(WorkerError::Start)?.into());
    copy.set(bytes, 0);
    Ok(copy)
}

/// The reply a [`Member::request`] promised, once it has come.
async fn answer_of(reply: Promise) -> Result<FromWorker, WorkerError> {
    let json = JsFuture::from(reply).await.map_err(|e| WorkerError::Protocol(crate::loader::js_error(e)))?;
    serde_json::from_str(&json.as_string().unwrap_or_default())
        .map_err(|e| WorkerError::Protocol(format!("unreadable reply: {e}")))
}

impl Member {
    fn start(script_url: &str, index: usize, pending: &Pending) -> Result<Member, WorkerError> {
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options(script_url, &options)
            .map_err(|e| WorkerError::Start(crate::loader::js_error(e)))?;
        let on_message = {
            let pending = pending.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let json = event.data().as_string().unwrap_or_default();
                let (id, failed) = match serde_json::from_str::<FromWorker>(&json) {
                    Ok(reply) => (reply.id(), matches!(reply, FromWorker::Failed { .. })),
                    Err(_) => (0, false),
                };
                settle(&pending, id, index, failed, &json);
            })
        };
        // A crashed worker answers every request it owes with its error instead of leaving it hanging.
        let on_error = {
            let pending = pending.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                let message = js_sys::Reflect::get(&event, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| "the CPU worker crashed".into());
                let owed: Vec<u64> = pending.borrow().keys().filter(|(_, w)| *w == index).map(|(id, _)| *id).collect();
                for id in owed {
                    let reply = FromWorker::Failed { id, message: message.clone() };
                    settle(&pending, id, index, true, &serde_json::to_string(&reply).expect("replies serialise"));
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Member { worker, index, pending: pending.clone(), _on_message: on_message, _on_error: on_error })
    }

    /// Posts `request` with `slots` after its JSON (moving the `transfer` buffers) and returns the promise of
    /// its reply's JSON.
    fn request(
        &self,
        id: u64,
        request: &ToWorker,
        slots: &[JsValue],
        transfer: Vec<JsValue>,
    ) -> Result<Promise, WorkerError> {
        let (pending, index) = (self.pending.clone(), self.index);
        let reply = Promise::new(&mut |resolve, _reject| {
            pending.borrow_mut().insert((id, index), resolve);
        });
        let message = Array::new();
        message.push(&JsValue::from_str(&serde_json::to_string(request).expect("requests serialise")));
        slots.iter().for_each(|slot| {
            message.push(slot);
        });
        let transfer: Array = transfer.into_iter().collect();
        self.worker
            .post_message_with_transfer(&message, &transfer)
            .map_err(|e| WorkerError::Protocol(crate::loader::js_error(e)))?;
        Ok(reply)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
