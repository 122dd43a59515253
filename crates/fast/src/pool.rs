//! A fixed set of worker threads that run one parallel job at a time together with the calling thread.
//!
//! A forward pass is about thirty short parallel regions (every matmul, attention, the proposals). Spawning
//! threads for each, as `std::thread::scope` does, cost as much as the work they shared: at 256 tokens two
//! threads were no faster than one. Here workers live as long as the model, spin on the job counter for a
//! moment after each job (the next region usually follows within microseconds), then sleep on a condvar.
//!
//! In wasm there are no threads: the pool has no workers and the caller runs every task.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps: longer than the serial work between two parallel
/// regions of a forward pass, short enough that an idle model costs nothing.
const SPIN: Duration = Duration::from_micros(300);

/// One job's tasks, called as `f(task)` for every task in `0..tasks`, each exactly once, on any thread.
type Tasks<'a> = dyn Fn(usize) + Sync + 'a;

pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

struct Shared {
    /// Bumped (under `job`'s lock) when a job is posted; a worker runs a job when this differs from the
    /// last one it saw.
    generation: AtomicUsize,
    job: Mutex<Option<Job>>,
    posted: Condvar,
    /// The next task to claim.
    next: AtomicUsize,
    /// Workers that have not yet finished the current job: the caller waits for zero before it returns, so
    /// no worker touches a job's closure after `run` has returned.
    running: AtomicUsize,
    panicked: AtomicBool,
    shutdown: AtomicBool,
    /// Workers waiting on `posted` (changed under `job`'s lock): a job is announced with a notification only
    /// when someone sleeps, since every notification is a system call.
    sleepers: AtomicUsize,
}

/// A posted job; `tasks` is borrowed from the `run` call that posted it, for as long as that call lasts.
#[derive(Clone, Copy)]
struct Job {
    count: usize,
    tasks: *const Tasks<'static>,
}

// SAFETY: `tasks` points to a `Sync` closure, and `Pool::run` keeps it alive until every worker is done with it.
#[allow(unsafe_code)]
unsafe impl Send for Job {}

impl Pool {
    /// A pool that runs jobs on `threads` threads: the caller and `threads − 1` workers (none in wasm).
    pub fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            job: Mutex::new(None),
            posted: Condvar::new(),
            next: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
        });
        let workers = if cfg!(target_arch = "wasm32") { 0 } else { threads.saturating_sub(1) };
        let workers = (0..workers)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("unmask-fast-{i}"))
                    .spawn(move || shared.work())
                    .expect("spawning a worker thread")
            })
            .collect();
        Pool { shared, workers }
    }

    /// Threads a job runs on, the caller's included.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `tasks(i)` for every `i` in `0..count`, spread over the pool, and returns when all are done.
    /// A panic in a task is raised again here, after every thread has stopped. One job at a time: a task must
    /// not call `run` on its own pool (inside a task, use a pool of one thread).
    pub fn run(&self, count: usize, tasks: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || count <= 1 {
            (0..count).for_each(tasks);
            return;
        }
        let shared = &*self.shared;
        // SAFETY: only the lifetime is erased. This call does not return (or unwind) before `running` is
        // back to zero, that is, before every worker has stopped using the pointer.
        #[allow(unsafe_code)]
        let erased: *const Tasks<'static> = unsafe { std::mem::transmute(tasks as *const Tasks<'_>) };
        {
            let mut job = shared.job.lock().expect("pool lock");
            assert!(job.is_none(), "a pool runs one job at a time");
            *job = Some(Job { count, tasks: erased });
            shared.next.store(0, Ordering::Relaxed);
            shared.running.store(self.workers.len(), Ordering::Relaxed);
            shared.generation.fetch_add(1, Ordering::Release);
        }
        // A worker counts itself a sleeper under the lock before it waits, so this read (after the lock) sees it.
        if shared.sleepers.load(Ordering::Relaxed) > 0 {
            shared.posted.notify_all();
        }
        let mine = panic::catch_unwind(AssertUnwindSafe(|| shared.claim(count, tasks)));
        let started = Instant::now();
        let mut spins = 0u32;
        while shared.running.load(Ordering::Acquire) != 0 {
            spins = spins.wrapping_add(1);
            if spins < 64 || !spins.is_multiple_of(64) || started.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        *shared.job.lock().expect("pool lock") = None;
        if let Err(payload) = mine {
            panic::resume_unwind(payload);
        }
        if shared.panicked.swap(false, Ordering::Relaxed) {
            panic!("a task panicked on a worker thread");
        }
    }
}

impl Pool {
    /// Runs `f(i, item)` for every item, spread over the pool: the way to hand each task its own mutable
    /// slices. Each item sits behind its own mutex, which only its task ever locks.
    pub fn each<T: Send>(&self, items: Vec<T>, f: impl Fn(usize, T) + Sync) {
        let items: Vec<Mutex<Option<T>>> = items.into_iter().map(|item| Mutex::new(Some(item))).collect();
        self.run(items.len(), &|i| {
            let item = items[i].lock().expect("a task's own item").take().expect("each task runs once");
            f(i, item);
        });
    }

    /// How many rows of `rows` to give one task: a few tasks per thread, so that a thread that started late
    /// still finds work.
    pub fn rows_per_task(&self, rows: usize) -> usize {
        rows.div_ceil(self.threads() * 3).max(1)
    }
}

impl Shared {
    /// Claims and runs tasks until none are left.
    fn claim(&self, count: usize, tasks: &Tasks<'_>) {
        loop {
            let task = self.next.fetch_add(1, Ordering::Relaxed);
            if task >= count {
                return;
            }
            tasks(task);
        }
    }

    fn work(&self) {
        let mut seen = 0;
        loop {
            let Some(generation) = self.wait_for_job(seen) else { return };
            seen = generation;
            let job = self.job.lock().expect("pool lock").expect("a job is posted until every worker is done");
            // SAFETY: `run` keeps the closure alive until this worker decrements `running` below.
            #[allow(unsafe_code)]
            let tasks = unsafe { &*job.tasks };
            if panic::catch_unwind(AssertUnwindSafe(|| self.claim(job.count, tasks))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.running.fetch_sub(1, Ordering::Release);
        }
    }

    /// The generation of the next job after `seen`, or `None` when the pool is shutting down.
    fn wait_for_job(&self, seen: usize) -> Option<usize> {
        let started = Instant::now();
        let mut spins = 0u32;
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                return None;
            }
            let generation = self.generation.load(Ordering::Acquire);
            if generation != seen {
                return Some(generation);
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && started.elapsed() > SPIN {
                break;
            }
            std::hint::spin_loop();
        }
        let mut job = self.job.lock().expect("pool lock");
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                return None;
            }
            let generation = self.generation.load(Ordering::Acquire);
            if generation != seen {
                return Some(generation);
            }
            self.sleepers.fetch_add(1, Ordering::Relaxed);
            job = self.posted.wait(job).expect("pool lock");
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        {
            let _job = self.shared.job.lock().expect("pool lock");
            self.shared.shutdown.store(true, Ordering::Relaxed);
        }
        self.shared.posted.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// How many threads the engine uses: the machine's cores natively, one in wasm (no threads there).
pub fn default_threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_exactly_once_on_every_job() {
        let pool = Pool::new(3);
        for count in [0, 1, 2, 7, 100] {
            let hits: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
            pool.run(count, &|t| {
                hits[t].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "{count} tasks");
        }
    }

    #[test]
    fn a_sleeping_pool_wakes_for_the_next_job() {
        let pool = Pool::new(2);
        std::thread::sleep(SPIN * 4);
        let sum = AtomicUsize::new(0);
        pool.run(10, &|t| {
            sum.fetch_add(t, Ordering::Relaxed);
        });
        assert_eq!(sum.into_inner(), 45);
    }

    #[test]
    fn a_panicking_task_is_raised_on_the_caller_and_the_pool_survives() {
        let pool = Pool::new(2);
        let caught = panic::catch_unwind(AssertUnwindSafe(|| pool.run(8, &|t| assert_ne!(t, 5, "task five"))));
        assert!(caught.is_err());
        let ran = AtomicUsize::new(0);
        pool.run(4, &|_| {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.into_inner(), 4);
    }
}
