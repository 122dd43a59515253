//! Choosing among many sampled completions without running anything here: what a prompt's docstring says a
//! correct function returns (`examples`), extra inputs derived from those examples (`variants`), and groups of
//! candidates that behave alike on them (`cluster`). Running candidate code is the caller's job, in a sandbox
//! (a child process natively, a Pyodide worker in the page); this crate only reads and compares text, so the
//! CLI and the page share it, with the sandbox's protocol (`job`: the harness, its job and its outcome) and the
//! choice among judged candidates (`choose`).

pub mod choose;
pub mod cluster;
pub mod examples;
pub mod job;
pub mod variants;

pub use choose::{Choice, choose, function_only, program};
pub use cluster::{Cluster, clusters};
pub use examples::{Example, Form, entry_point, examples};
pub use variants::variants;
