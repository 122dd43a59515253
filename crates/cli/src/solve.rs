//! `unmask solve`: sample many completions, keep those that give the docstring's examples when run in the
//! sandbox, group the survivors by their outputs on inputs derived from the examples, and print the first
//! completion of the largest group (AlphaCode's sample → filter → cluster).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use unmask_sampler::{BatchObserver, EndsAlso, MAX_BATCH, SamplerConfig, generate_batch};
use unmask_solve::{choose, entry_point, examples, function_only, program, variants};

use crate::backend::Backend;
use crate::generate::{FormatArg, Loaded, SamplerArgs, recommended_of};
use crate::sandbox::{ErrorKind, Limits, Sandbox};

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
    format: FormatArg,
    #[command(flatten)]
    sampler: SamplerArgs,
}

#[derive(Serialize)]
struct Sample {
    index: usize,
    seed: u64,
    completion: String,
    /// The answer after the prompt as run: cut before its first line at column 0 (code after the function).
    ran: String,
    /// For a prompt with holes: the prompt with this sample's tokens in them (run and printed before `ran`).
    #[serde(skip_serializing_if = "Option::is_none")]
    filled_prompt: Option<String>,
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
    let recommended = recommended_of(&args.model)?;
    let config = args.sampler.over(recommended.decoding);
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

    let batch = args.batch.min(args.samples as usize);
    let format = args.format.prompt_format.or(recommended.prompt_format);
    let mut loaded =
        Loaded::open(&args.model, args.backend, std::slice::from_ref(&prompt), format, config.max_new_tokens, batch)?;
    let prepared = loaded.prompts.pop().expect("one prompt");
    let first_seed = config.seed;

    let mut samples = Vec::new();
    let mut outcomes = Vec::new();
    let seeds: Vec<u64> = (0..args.samples as u64).map(|i| first_seed.wrapping_add(i)).collect();
    for group in seeds.chunks(args.batch) {
        let configs: Vec<SamplerConfig> = group.iter().map(|&seed| SamplerConfig { seed, ..config.clone() }).collect();
        let batch: Vec<(&[u32], &SamplerConfig)> = configs.iter().map(|c| (&prepared.ids[..], c)).collect();
        let mut engine = EndsAlso { model: loaded.engine.as_mut(), extra: &loaded.end_tokens };
        let decoded = generate_batch(&mut engine, &batch, &mut Clock(Instant::now()))?;
        for (decoded, seed) in decoded.iter().zip(group) {
            let index = samples.len();
            let completion = loaded.completion(&prepared, decoded)?;
            let (filled, answer) = loaded.prompt_and_answer(&prepared, decoded)?;
            let ran = function_only(&answer).to_owned();
            let outcome = sandbox.run(&program(&filled, &answer), &stated, &probes)?;
            let filled_prompt = (filled != prompt && !filled.is_empty()).then_some(filled);
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
                filled_prompt,
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

    let choice = choose(&outcomes, args.keep);
    for (sample, group) in samples.iter_mut().zip(&choice.group_of) {
        sample.cluster = *group;
    }
    let (groups, chosen) = (&choice.groups, &choice.chosen);
    let parsed = outcomes.iter().filter(|o| o.parses).count();
    eprintln!(
        "sampled {}, parsed {parsed}, passed the examples {}, {} groups{}",
        samples.len(),
        choice.survivors(),
        groups.len(),
        groups.first().map(|g| format!(" (largest {})", g.len())).unwrap_or_default()
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
            "clusters": groups,
            "chosen": chosen,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for (n, &index) in chosen.iter().enumerate() {
        if n > 0 {
            println!("# ---- choice {} (sample {index})", n + 1);
        }
        let answer = format!("{}{}", samples[index].filled_prompt.as_deref().unwrap_or_default(), samples[index].ran);
        print!("{answer}");
        if !answer.ends_with('\n') {
            println!();
        }
    }
    Ok(())
}
