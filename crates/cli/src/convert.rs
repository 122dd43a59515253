use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use unmask_cpu::CpuModel;
use unmask_cpu::compare::{LogitError, PROBE_LEN, logit_error};
use unmask_model::ModelDir;
use unmask_model::convert::{WeightFormat, convert_weights};
use unmask_model::prompt::ChatTemplate;
use unmask_model::quant::{DEFAULT_GROUP_SIZE, QuantScheme};

use crate::inspect::{human_bytes, human_count};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Target {
    Q8,
    Q4,
    #[value(name = "q4a")]
    Q4A,
    F16,
    F32,
}

#[derive(clap::Args)]
pub struct Args {
    /// The model to convert: a model directory or a GGUF file.
    model_dir: PathBuf,
    /// Weight format of the copy: q8 / q4 (symmetric group quantization), q4a (4-bit with a per-group minimum:
    /// keeps a model fine-tuned from Q4_1 GGUF weights close to them) or plain f16 / f32.
    #[arg(long, value_enum)]
    quant: Target,
    /// Columns per quantization group, one f16 scale each (and a minimum for q4a) [default: 32].
    #[arg(long)]
    group_size: Option<usize>,
    /// Directory to write (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Write into a non-empty directory that is not an earlier conversion, replacing its model files.
    #[arg(long)]
    force: bool,
    /// Skip measuring the converted model's logits against the source model's.
    #[arg(long)]
    no_check: bool,
}

/// The files a conversion writes; an output directory holding nothing else may be written into.
const WEIGHTS_FILE: &str = "model.safetensors";
const TEMPORARY_FILE: &str = "model.safetensors.tmp";
const COPIED: [&str; 4] = ["config.json", "tokenizer.json", "generation_config.json", "chat_template.jinja"];
/// Would take precedence over `model.safetensors` when the directory is read.
const SHARD_INDEX: &str = "model.safetensors.index.json";

/// Python for the error measurement, written for it (so no model has trained on it).
const PROBE_TEXT: &str = r##"import heapq
from dataclasses import dataclass, field


@dataclass(order=True)
class Job:
    priority: int
    name: str = field(compare=False)
    retries: int = field(default=0, compare=False)


class Scheduler:
    """Runs jobs by priority, retrying failed ones a bounded number of times."""

    def __init__(self, max_retries=3):
        self.max_retries = max_retries
        self._queue = []
        self.finished = []
        self.failed = []

    def submit(self, name, priority=0):
        heapq.heappush(self._queue, Job(priority, name))

    def run(self, work):
        while self._queue:
            job = heapq.heappop(self._queue)
            try:
                result = work(job.name)
            except Exception as error:
                if job.retries < self.max_retries:
                    job.retries += 1
                    heapq.heappush(self._queue, job)
                else:
                    self.failed.append((job.name, str(error)))
                continue
            self.finished.append((job.name, result))
        return len(self.finished), len(self.failed)


def parse_line(line):
    key, _, value = line.partition("=")
    key = key.strip().lower()
    if not key:
        raise ValueError("empty key in line: %r" % line)
    return key, value.strip()


def load_settings(path):
    settings = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.split("#", 1)[0]
            if not line.strip():
                continue
            key, value = parse_line(line)
            if key in settings:
                raise KeyError("line %d: duplicate key %s" % (number, key))
            settings[key] = value
    return settings
"##;

pub fn run(args: Args) -> Result<()> {
    let format = match (args.quant, args.group_size) {
        (Target::F16 | Target::F32, Some(_)) => bail!("--group-size applies to q8, q4 and q4a only"),
        (Target::F16, None) => WeightFormat::F16,
        (Target::F32, None) => WeightFormat::F32,
        (Target::Q8, g) => WeightFormat::Quant { scheme: QuantScheme::Q8, group_size: g.unwrap_or(DEFAULT_GROUP_SIZE) },
        (Target::Q4, g) => WeightFormat::Quant { scheme: QuantScheme::Q4, group_size: g.unwrap_or(DEFAULT_GROUP_SIZE) },
        (Target::Q4A, g) => {
            WeightFormat::Quant { scheme: QuantScheme::Q4A, group_size: g.unwrap_or(DEFAULT_GROUP_SIZE) }
        }
    };
    let source = ModelDir::open(&args.model_dir)?;
    check_out_dir(&args.model_dir, &args.out, args.force)?;

    let start = Instant::now();
    let elements = source.weights.elements();
    let bytes = convert_weights(&source.config, &source.weights, format)?;
    eprintln!("converted {} ({} weights) to {format}", args.model_dir.display(), human_count(elements));

    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let index = out.join(SHARD_INDEX);
    if index.exists() {
        // Only with --force: check_out_dir counts it as a foreign file.
        std::fs::remove_file(&index).with_context(|| format!("removing {}", index.display()))?;
        eprintln!("removed {} (it would shadow the converted weights)", index.display());
    }
    let (temporary, weights_path) = (out.join(TEMPORARY_FILE), out.join(WEIGHTS_FILE));
    std::fs::write(&temporary, &bytes).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, &weights_path).with_context(|| format!("writing {}", weights_path.display()))?;
    let from_gguf = args.model_dir.is_file();
    for file in COPIED {
        let (from, to) = (args.model_dir.join(file), out.join(file));
        let written = match file {
            // A GGUF file holds its config and tokenizer as metadata: write them as imported (with the mask
            // placeholder, if one was chosen, written down).
            "config.json" if from_gguf => Some(serde_json::to_string_pretty(&source.config.to_hf_json())? + "\n"),
            "tokenizer.json" if from_gguf => Some(source.tokenizer.to_json()?),
            "chat_template.jinja" if from_gguf => source.chat_template.as_ref().map(ChatTemplate::to_jinja),
            _ => None,
        };
        if let Some(text) = written {
            std::fs::write(&to, text).with_context(|| format!("writing {}", to.display()))?;
        } else if !from_gguf && from.exists() {
            std::fs::copy(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        } else if to.exists() {
            // Left over from an earlier conversion of another model.
            std::fs::remove_file(&to).with_context(|| format!("removing {}", to.display()))?;
        }
    }
    eprintln!(
        "wrote {} in {:.1?}: {} (source {})",
        weights_path.display(),
        start.elapsed(),
        human_bytes(bytes.len()),
        human_bytes(source.weights.total_bytes())
    );

    if args.no_check {
        return Ok(());
    }
    let converted = ModelDir::open(out).context("reading the converted model back")?;
    let (error, tokens) = measure(&source, &converted)?;
    eprintln!(
        "logits vs the source model (CPU reference; {tokens} tokens of unseen Python, {} of them masked): \
         max |Δlogit| {:.4}, mean |Δlogit| {:.5}, top-1 agreement {:.1}%",
        error.rows,
        error.max_abs,
        error.mean_abs,
        100.0 * error.top1_agreement()
    );
    Ok(())
}

/// The converted model's logit error against the source model's on the built-in probe text, both run by the CPU
/// reference, and how many tokens of the text it ran on.
fn measure(source: &ModelDir, converted: &ModelDir) -> Result<(LogitError, usize)> {
    let text = source.tokenizer.encode(PROBE_TEXT)?;
    let reference = CpuModel::load(&source.config, &source.weights)?;
    let candidate = CpuModel::load(&converted.config, &converted.weights)?;
    let tokens = text.len().min(PROBE_LEN).min(source.config.max_position_embeddings);
    Ok((logit_error(&reference, &candidate, &text)?, tokens))
}

/// Checks that writing into `out` destroys nothing: it must not be the source, and unless `force`, must hold
/// nothing but an earlier conversion's files (or not exist yet).
fn check_out_dir(source: &Path, out: &Path, force: bool) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!("--out {} exists and is not a directory", out.display());
    }
    if source.canonicalize()? == out.canonicalize()? {
        bail!("--out {} is the source model directory; write the converted model elsewhere", out.display());
    }
    let ours: BTreeSet<&str> = COPIED.into_iter().chain([WEIGHTS_FILE, TEMPORARY_FILE]).collect();
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))? {
        let name = entry.with_context(|| format!("reading {}", out.display()))?.file_name();
        let name = name.to_string_lossy().into_owned();
        if !ours.contains(name.as_str()) {
            foreign.push(name);
        }
    }
    foreign.sort();
    if !foreign.is_empty() && !force {
        bail!(
            "--out {} holds files an earlier conversion did not write ({}); pass --force to write into it",
            out.display(),
            foreign.join(", ")
        );
    }
    Ok(())
}
