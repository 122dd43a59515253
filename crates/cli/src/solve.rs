//! `unmask solve`: sample many completions, keep those that give the docstring's examples when run in the
//! sandbox, group the survivors by their outputs on inputs derived from the examples, and print the first
//! completion of the largest group (AlphaCode's sample → filter → cluster).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use unmask_sampler::{BatchObserver, MAX_BATCH, SamplerConfig, generate_batch};
use unmask_solve::{clusters, entry_point, examples, variants};

use crate::backend::Backend;
use crate::generate::{Loaded, SamplerArgs, recommended_decoding};
use crate::sandbox::{ErrorKind, Limits, Outcome, Sandbox};

/// Most samples one run takes (each is a whole decode).
const MAX_SAMPLES: u32 = 1024;
/// Inputs derived from the examples to tell candidates apart.
const PROBES: usize = 16;

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// Model directory or GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// The prompt: a function's signature and docstring, with examples (`>>> f(1)` then `2`, or `f(1) == 2`).
    #[arg(long)]
    prompt_file: PathBuf,
    /// Completions to sample; sample i uses seed --seed + i.
    #[arg(long, default_value_t = 16)]
    samples: u32,
    /// Completions to print: the first of each of the largest groups, best first.
    #[arg(long, default_value_t = 1)]
    keep: usize,
    /// Samples decoded together, in one forward pass per step (1 to 64).
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Write every sample (completion, seed, parse, examples passed, error kind, group, steps, time) as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// The Python 3 that runs the candidates.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// The engine that runs the model.
    #[arg(long, value_enum, default_value_t = Backend::Fast)]
    backend: Backend,
    #[command(flatten)]
    sampler: SamplerArgs,
}

#[derive(Serialize)]
struct Sample {
    index: usize,
    seed: u64,
    completion: String,
    /// The completion as run: cut before its first line at column 0 (code after the function).
    ran: String,
    parses: bool,
    examples_passed: usize,
    examples_total: usize,
    error: Option<ErrorKind>,
    detail: Option<String>,
    /// Rank of its group among the survivors' groups (0 = largest); none for a sample that failed.
    cluster: Option<usize>,
    steps: usize,
    /// Decode time of the batch the sample ran in.
    millis: f64,
}

/// The clock of a batched decode.
struct Clock(Instant);

impl BatchObserver for Clock {
    fn now_millis(&mut self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1e3
    }
}

pub fn run(args: Args) -> Result<()> {
    if !(1..=MAX_SAMPLES).contains(&args.samples) {
        bail!("--samples is {}: expected 1 to {MAX_SAMPLES}", args.samples);
    }
    if args.keep == 0 {
        bail!("--keep must be at least 1");
    }
    if !(1..=MAX_BATCH).contains(&args.batch) {
        bail!("--batch is {}: expected 1 to {MAX_BATCH}", args.batch);
    }
    let config = args.sampler.over(recommended_decoding(&args.model)?);
    config.validate()?;
    let prompt = std::fs::read_to_string(&args.prompt_file)
        .with_context(|| format!("reading prompt file {}", args.prompt_file.display()))?;
    let sandbox = Sandbox::new(&args.python, Limits::default())?;
    let stated = examples(&prompt);
    let name = entry_point(&prompt);
    let calls: Vec<&str> = stated.iter().map(|e| e.call.as_str()).collect();
    let probes = name.as_deref().map(|n| variants(&calls, n, PROBES)).unwrap_or_default();
    if stated.is_empty() {
        eprintln!("no examples found in the docstring: samples are ranked by whether they parse and run");
    } else {
        eprintln!("{} examples from the docstring, {} derived inputs", stated.len(), probes.len());
    }

    let mut loaded = Loaded::open(&args.model, args.backend, &prompt, config.max_new_tokens)?;
    let first_seed = config.seed;

    let mut samples = Vec::new();
    let mut outcomes = Vec::new();
    let seeds: Vec<u64> = (0..args.samples as u64).map(|i| first_seed.wrapping_add(i)).collect();
    for group in seeds.chunks(args.batch) {
        let configs: Vec<SamplerConfig> = group.iter().map(|&seed| SamplerConfig { seed, ..config.clone() }).collect();
        let batch: Vec<(&[u32], &SamplerConfig)> = configs.iter().map(|c| (&loaded.prompt_ids[..], c)).collect();
        let decoded = generate_batch(loaded.engine.as_mut(), &batch, &mut Clock(Instant::now()))?;
        for (decoded, seed) in decoded.iter().zip(group) {
            let index = samples.len();
            let completion = loaded.completion(decoded)?;
            let ran = function_only(&completion).to_owned();
            let outcome = sandbox.run(&format!("{prompt}{ran}"), &stated, &probes)?;
            let examples_passed = outcome.examples.iter().filter(|e| e.passed).count();
            eprintln!(
                "[{}/{}] seed {seed}: {}",
                index + 1,
                args.samples,
                match outcome.error {
                    None => format!("passes {examples_passed}/{} examples", stated.len()),
                    Some(kind) => format!("{kind:?} ({})", outcome.detail.as_deref().unwrap_or("")).to_lowercase(),
                }
            );
            samples.push(Sample {
                index,
                seed: *seed,
                completion,
                ran,
                parses: outcome.parses,
                examples_passed,
                examples_total: stated.len(),
                error: outcome.error,
                detail: outcome.detail.clone(),
                cluster: None,
                steps: decoded.steps.len(),
                millis: decoded.steps.iter().map(|s| s.millis).sum(),
            });
            outcomes.push(outcome);
        }
    }

    let survivors: Vec<usize> = (0..samples.len()).filter(|&i| outcomes[i].passed()).collect();
    let behaviours: Vec<Vec<String>> = survivors.iter().map(|&i| outcomes[i].probes.clone()).collect();
    let groups = clusters(&behaviours);
    for (rank, group) in groups.iter().enumerate() {
        for &member in &group.members {
            samples[survivors[member]].cluster = Some(rank);
        }
    }
    let chosen: Vec<usize> = if groups.is_empty() {
        fallback(&outcomes).into_iter().collect()
    } else {
        groups.iter().take(args.keep).map(|g| survivors[g.members[0]]).collect()
    };
    let parsed = outcomes.iter().filter(|o| o.parses).count();
    eprintln!(
        "sampled {}, parsed {parsed}, passed the examples {}, {} groups{}",
        samples.len(),
        survivors.len(),
        groups.len(),
        groups.first().map(|g| format!(" (largest {})", g.members.len())).unwrap_or_default()
    );
    if groups.is_empty() {
        eprintln!("no sample passed the examples: printing the one that came closest");
    }
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "model": loaded.model_dir.name, "prompt": prompt, "params": config,
            "examples": stated.iter().map(|e| serde_json::json!({"setup": e.setup, "call": e.call, "expected": e.expected})).collect::<Vec<_>>(),
            "probes": probes,
            "samples": samples,
            "clusters": groups.iter().map(|g| g.members.iter().map(|&m| survivors[m]).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "chosen": chosen,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for (n, &index) in chosen.iter().enumerate() {
        if n > 0 {
            println!("# ---- choice {} (sample {index})", n + 1);
        }
        print!("{}", samples[index].ran);
        if !samples[index].ran.ends_with('\n') {
            println!();
        }
    }
    Ok(())
}

/// The completion up to its first non-blank line that starts at column 0 (not a comment): the function body,
/// without code the model wrote after it.
fn function_only(completion: &str) -> &str {
    let mut at = 0;
    for line in completion.split_inclusive('\n') {
        let code = !line.trim().is_empty() && !line.starts_with([' ', '\t', '#']);
        if code && at > 0 {
            return &completion[..at];
        }
        at += line.len();
    }
    completion
}

/// With no survivor: the sample that passed most examples, among those that parse (else the first).
fn fallback(outcomes: &[Outcome]) -> Option<usize> {
    let passed = |o: &Outcome| o.examples.iter().filter(|e| e.passed).count();
    (0..outcomes.len())
        .filter(|&i| outcomes[i].parses)
        .max_by_key(|&i| (passed(&outcomes[i]), std::cmp::Reverse(i)))
        .or((!outcomes.is_empty()).then_some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_after_the_function_is_cut() {
        assert_eq!(function_only("    return x\n\nprint(f(1))\n"), "    return x\n\n");
        assert_eq!(function_only("    return x\n# done\n    \n"), "    return x\n# done\n    \n");
        assert_eq!(function_only("x = 1\n"), "x = 1\n");
    }
}
