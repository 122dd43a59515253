//! The CPU worker's shards swap their columns of each product through shared memory: the page makes two
//! `SharedArrayBuffer`s (a few counters, and room for two exchanges' floats), every worker of the pool gets
//! both, and [`SharedExchange`] is `unmask_fast::Exchange` over them. Shared memory needs a cross-origin
//! isolated page (the COOP and COEP headers that `cargo xtask serve` and Trunk.toml send); without it the
//! page runs one worker ([`workers_for`]).
//!
//! An exchange is one barrier: each shard writes its block into the current half of the data buffer, waits
//! until every shard has written, and reads all blocks. Two halves, used in turn, make a second barrier
//! unneeded: a shard can only write into a half again after every shard has passed the barrier between,
//! so every shard has finished reading it.

use js_sys::{Atomics, Float32Array, Int32Array, SharedArrayBuffer};
use wasm_bindgen::{JsCast, JsValue};

/// Floats in each half of the data buffer: 16 MiB, a few rows of a 151,936-token head per exchange.
const CAPACITY: usize = 4 << 20;
/// The counters: shards arrived at the barrier, barriers passed, and a flag a failed shard raises.
const ARRIVED: u32 = 0;
const PASSED: u32 = 1;
const BROKEN: u32 = 2;
/// Polls of the counter before a shard sleeps (the others usually arrive within microseconds).
const SPINS: u32 = 2_000;
/// A shard gives up when the others have not arrived for this long: one product of one layer takes far less.
const PATIENCE_MS: f64 = 60_000.0;

/// How many workers the page runs a model of `weight_bytes` on, and why only one where that is a loss: several
/// when the model is large enough that a step outweighs the exchanges (a 4 M model's step takes milliseconds),
/// the page is cross-origin isolated (shared memory) and the machine has the cores and the memory (up to four);
/// `asked` (the `workers` link parameter) sets the count.
pub fn workers_for(weight_bytes: u64, asked: Option<u32>) -> (usize, Option<String>) {
    const WORTH_SHARDING: u64 = 32 << 20;
    if asked.is_none() && weight_bytes < WORTH_SHARDING || asked == Some(1) {
        return (1, None);
    }
    if !cross_origin_isolated() {
        let why = "the CPU worker runs on one thread: this page is not cross-origin isolated (it needs the \
                   Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers; see the README)";
        return (1, Some(why.into()));
    }
    // Each worker holds its shard and the files' tensors it is converting (a 0.5B model's shards add up to
    // about its widened size, 1 GB, and the pool shares the 420 MiB files): no more workers than one per 2 GB
    // the browser reports (`navigator.deviceMemory`, where it does).
    let auto = || hardware_concurrency().clamp(1, 4).min(device_memory_gb().map_or(4, |gb| (gb / 2.0) as usize).max(1));
    let count = asked.map_or_else(auto, |a| a as usize);
    (count.clamp(1, crate::settings::MAX_WORKERS as usize), None)
}

fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into()).ok().and_then(|v| v.as_bool()) == Some(true)
}

fn device_memory_gb() -> Option<f64> {
    navigator_number("deviceMemory")
}

fn hardware_concurrency() -> usize {
    navigator_number("hardwareConcurrency").unwrap_or(1.0) as usize
}

/// A number `navigator` offers (in the page and in workers alike), where the browser has it.
fn navigator_number(name: &str) -> Option<f64> {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    js_sys::Reflect::get(&navigator, &name.into()).ok()?.as_f64()
}

/// The two shared buffers of one pool, made by the page and sent to every worker.
#[derive(Clone)]
pub struct SharedBuffers {
    pub control: Int32Array,
    pub data: Float32Array,
}

impl SharedBuffers {
    pub fn new() -> Result<SharedBuffers, String> {
        let control = Int32Array::new(&shared_memory(4 * 4)?.into());
        let data = Float32Array::new(&shared_memory(2 * CAPACITY * 4)?.into());
        Ok(SharedBuffers { control, data })
    }
}

/// A `SharedArrayBuffer` of `bytes`, or why the browser would not make one (no isolation, no memory).
pub fn shared_memory(bytes: usize) -> Result<SharedArrayBuffer, String> {
    let constructor = js_sys::Reflect::get(&js_sys::global(), &"SharedArrayBuffer".into())
        .ok()
        .and_then(|c| c.dyn_into::<js_sys::Function>().ok())
        .ok_or("this page has no shared memory (it is not cross-origin isolated)")?;
    let length = js_sys::Array::of1(&(bytes as f64).into());
    js_sys::Reflect::construct(&constructor, &length)
        .map(|b| b.unchecked_into())
        .map_err(|e| format!("no shared memory of {} MiB: {}", bytes >> 20, crate::loader::js_error(e)))
}

/// One shard's side of the pool's exchange.
pub struct SharedExchange {
    index: usize,
    count: usize,
    buffers: SharedBuffers,
    /// Exchanges so far: which half of the data buffer is next.
    turn: usize,
}

// SAFETY: a wasm instance without threads (this crate's build) has one thread, so the JavaScript handles are
// only ever touched from it; `Send` is asked for by `unmask_fast::Exchange` for native threads.
#[allow(unsafe_code)]
unsafe impl Send for SharedExchange {}

impl SharedExchange {
    pub fn new(index: usize, count: usize, buffers: SharedBuffers) -> SharedExchange {
        SharedExchange { index, count, buffers, turn: 0 }
    }

    /// Waits until every shard has arrived; fails when one has failed or none came for [`PATIENCE_MS`].
    fn barrier(&self) -> Result<(), String> {
        let c = &self.buffers.control;
        let js = |e: JsValue| format!("shared memory: {}", crate::loader::js_error(e));
        let passed = Atomics::load(c, PASSED).map_err(js)?;
        if Atomics::add(c, ARRIVED, 1).map_err(js)? + 1 == self.count as i32 {
            // The last to arrive opens the barrier (the count is reset before anyone can arrive again).
            Atomics::store(c, ARRIVED, 0).map_err(js)?;
            Atomics::add(c, PASSED, 1).map_err(js)?;
            Atomics::notify(c, PASSED).map_err(js)?;
            return Ok(());
        }
        let started = js_sys::Date::now();
        let mut polls = 0;
        loop {
            if Atomics::load(c, BROKEN).map_err(js)? != 0 {
                return Err("another of the CPU worker's threads failed".into());
            }
            if Atomics::load(c, PASSED).map_err(js)? != passed {
                return Ok(());
            }
            if polls < SPINS {
                polls += 1;
                continue;
            }
            if js_sys::Date::now() - started > PATIENCE_MS {
                return Err(format!("the CPU worker's other threads did not answer for {} s", PATIENCE_MS / 1000.0));
            }
            // Sleep until the barrier opens (or a moment passes, to look at the flag and the clock again).
            Atomics::wait_with_timeout(c, PASSED, passed, 100.0).map_err(js)?;
        }
    }
}

impl unmask_fast::Exchange for SharedExchange {
    fn capacity(&self) -> usize {
        CAPACITY
    }

    fn all_gather(&mut self, mine: &[f32], lens: &[usize], out: &mut [f32]) -> Result<(), String> {
        let total: usize = lens.iter().sum();
        if total > CAPACITY || lens.len() != self.count || mine.len() != lens[self.index] {
            return Err(format!("an exchange of {total} floats over {} shards does not fit", lens.len()));
        }
        let half = (self.turn % 2) * CAPACITY;
        let at = half + lens[..self.index].iter().sum::<usize>();
        self.buffers.data.subarray(at as u32, (at + mine.len()) as u32).copy_from(mine);
        self.barrier()?;
        self.buffers.data.subarray(half as u32, (half + total) as u32).copy_to(&mut out[..total]);
        self.turn += 1;
        Ok(())
    }

    fn abandon(&mut self) {
        let c = &self.buffers.control;
        let _ = Atomics::store(c, BROKEN, 1);
        let _ = Atomics::notify(c, PASSED);
    }
}
