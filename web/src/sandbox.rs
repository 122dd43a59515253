//! The page's sandbox for candidate code: CPython compiled to WebAssembly (Pyodide, served by our own build
//! under `pyodide/`) in a Worker of its own (`web/sandbox.js`), never on the page's thread. It runs the harness
//! and protocol the CLI's sandbox runs (`unmask_solve::job`). A page cannot interrupt a running script, so each
//! candidate's time limit is enforced by terminating the worker; the next candidate gets a fresh one.
//!
//! What one worker does not isolate: the candidates it runs share one interpreter, so a candidate that changes
//! interpreter-wide state (`sys.modules`, the `builtins` module) can affect the ones after it. It has no network
//! or file system of the page's (Pyodide's files are in memory), and the audit hook refuses sockets and writes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Array, Function, Promise, Reflect};
use unmask_solve::Example;
use unmask_solve::job::{self, HARNESS, Outcome};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The worker's script, written by the site build beside the page.
pub const SANDBOX_SCRIPT: &str = "./sandbox.js";
/// How long a new worker may take to start Python: the first start downloads about 12 MB, later ones come
/// from the browser's cache.
const START_LIMIT: Duration = Duration::from_secs(120);

/// One started worker and the reply it owes, if any.
struct Running {
    worker: web_sys::Worker,
    /// Resolves the promise of the message awaited now, with the worker's message (or its error's text).
    reply: Rc<RefCell<Option<Function>>>,
    ready: bool,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// Runs candidates one at a time (a second caller waits for the first); starts a worker when it has none.
#[derive(Default)]
pub struct PySandbox {
    running: RefCell<Option<Running>>,
    busy: Cell<bool>,
}

/// Marks the sandbox busy for as long as it lives.
struct Busy<'a>(&'a Cell<bool>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// How often a caller waiting for the sandbox checks whether it is free.
const WAIT_POLL: u32 = 10;

/// What the worker said.
enum Reply {
    Ready,
    Done(String),
    Failed(String),
    TimedOut,
}

impl PySandbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `program` (prompt + completion), then each example and probe call, within `limit` of wall time
    /// once Python is up. A candidate past its limit is a timeout; the sandbox recovers by itself.
    pub async fn run(
        &self,
        program: &str,
        examples: &[Example],
        probes: &[String],
        limit: Duration,
    ) -> Result<Outcome, String> {
        // A superseded Solve run may still be judging its last candidate: the next one waits its turn, since
        // one worker holds one awaited reply.
        while self.busy.get() {
            gloo_timers::future::TimeoutFuture::new(WAIT_POLL).await;
        }
        self.busy.set(true);
        let _busy = Busy(&self.busy);
        self.start().await?;
        let job = job::job(program, examples, probes, None);
        let message = Array::of2(&JsValue::from_str(HARNESS), &JsValue::from_str(&job));
        match self.exchange(Some(&message), limit).await? {
            Reply::Done(output) => match job::answer(&output) {
                Some(outcome) => outcome.map_err(|e| format!("the sandbox's answer: {e}")),
                None => Err("the sandbox answered without an outcome".into()),
            },
            Reply::TimedOut => {
                // The only way to stop it: the worker goes, and the next candidate starts another.
                self.running.borrow_mut().take();
                Ok(Outcome::timeout(format!("still running after {:.1} s (wall clock)", limit.as_secs_f64())))
            }
            Reply::Failed(message) => {
                self.running.borrow_mut().take();
                Err(message)
            }
            Reply::Ready => Err("the sandbox said it was ready twice".into()),
        }
    }

    /// A worker with Python up, started if needed.
    async fn start(&self) -> Result<(), String> {
        if self.running.borrow().as_ref().is_some_and(|r| r.ready) {
            return Ok(());
        }
        if self.running.borrow().is_none() {
            *self.running.borrow_mut() = Some(spawn()?);
        }
        match self.exchange(None, START_LIMIT).await? {
            Reply::Ready => {
                if let Some(running) = self.running.borrow_mut().as_mut() {
                    running.ready = true;
                }
                Ok(())
            }
            Reply::Failed(message) => {
                self.running.borrow_mut().take();
                Err(message)
            }
            Reply::TimedOut => {
                self.running.borrow_mut().take();
                Err(format!("Python did not start within {} s", START_LIMIT.as_secs()))
            }
            Reply::Done(_) => Err("the sandbox answered a job it was not given".into()),
        }
    }

    /// Posts `message` (if any) and waits up to `limit` for the worker's next message.
    async fn exchange(&self, message: Option<&Array>, limit: Duration) -> Result<Reply, String> {
        let (worker, reply) = {
            let running = self.running.borrow();
            let running = running.as_ref().ok_or("the sandbox has no worker")?;
            (running.worker.clone(), running.reply.clone())
        };
        let answer = Promise::new(&mut |resolve, _reject| {
            *reply.borrow_mut() = Some(resolve);
        });
        if let Some(message) = message {
            worker.post_message(message).map_err(crate::loader::js_error)?;
        }
        let window = web_sys::window().ok_or("no window")?;
        let deadline = Promise::new(&mut |resolve, _reject| {
            let ms = limit.as_millis().min(i32::MAX as u128) as i32;
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        });
        let first = JsFuture::from(Promise::race(&Array::of2(&answer, &deadline))).await;
        reply.borrow_mut().take();
        let data = first.map_err(crate::loader::js_error)?;
        if data.is_undefined() {
            return Ok(Reply::TimedOut);
        }
        let field = |name: &str| Reflect::get(&data, &name.into()).ok().and_then(|v| v.as_string());
        Ok(match field("kind").as_deref() {
            Some("ready") => Reply::Ready,
            Some("done") => Reply::Done(field("output").unwrap_or_default()),
            _ => Reply::Failed(field("message").unwrap_or_else(|| "the sandbox failed".into())),
        })
    }
}

/// Starts the worker script; its messages resolve whatever reply is awaited.
fn spawn() -> Result<Running, String> {
    let worker = web_sys::Worker::new(SANDBOX_SCRIPT)
        .map_err(|e| format!("cannot start the sandbox worker: {}", crate::loader::js_error(e)))?;
    let reply: Rc<RefCell<Option<Function>>> = Rc::default();
    let on_message = {
        let reply = reply.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            if let Some(resolve) = reply.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::NULL, &event.data());
            }
        })
    };
    // A script that fails to load or throws answers the awaited reply with its error.
    let on_error = {
        let reply = reply.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let message = Reflect::get(&event, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| format!("the sandbox worker ({SANDBOX_SCRIPT}) failed"));
            let failed = js_sys::Object::new();
            let _ = Reflect::set(&failed, &"kind".into(), &"failed".into());
            let _ = Reflect::set(&failed, &"message".into(), &message.into());
            if let Some(resolve) = reply.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::NULL, &failed);
            }
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Running { worker, reply, ready: false, _on_message: on_message, _on_error: on_error })
}

thread_local! {
    static PAGE_SANDBOX: Rc<PySandbox> = Rc::new(PySandbox::new());
}

/// The page's one sandbox (Solve runs and [`run_in_sandbox`]), kept between runs so Python starts once.
pub fn page_sandbox() -> Rc<PySandbox> {
    PAGE_SANDBOX.with(Rc::clone)
}

/// Test hook: runs `prompt` + `completion` against the examples in the prompt's docstring in the page's
/// sandbox, with a time limit of `limit_ms`; resolves to the outcome as JSON (`tests/e2e/playground.mjs`).
#[wasm_bindgen]
pub async fn run_in_sandbox(prompt: String, completion: String, limit_ms: u32) -> Result<String, JsValue> {
    let sandbox = page_sandbox();
    let examples = unmask_solve::examples(&prompt);
    let program = format!("{prompt}{completion}");
    let outcome = sandbox.run(&program, &examples, &[], Duration::from_millis(limit_ms.into())).await?;
    Ok(serde_json::to_string(&outcome).expect("outcomes serialise"))
}
