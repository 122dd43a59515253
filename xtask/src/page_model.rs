//! One model as the page downloads it: its weights in the page's format, config, tokenizer, chat template and
//! recommended decoding.
//!
//! A model directory that names a `base_model` (a delta, or a pretrained model shipped as its config and
//! recommended decoding only) is composed with its fetched base and converted; the base is fetched here when it
//! is missing, and the converted copy is kept in `target/page-models/` under a key of everything it is made
//! from, so a second site build (Trunk's, `serve` again) copies instead of converting.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use unmask_model::ModelDir;
use unmask_model::base::BaseModel;
use unmask_model::convert::{WeightFormat, convert_weights};
use unmask_model::quant::{DEFAULT_GROUP_SIZE, QuantScheme};

use crate::{pretrained, target_dir};

/// Files a page model may hold; the first three are required (web/src/loader.rs).
pub const PAGE_FILES: [&str; 5] =
    ["config.json", "tokenizer.json", "model.safetensors", "generation_config.json", "chat_template.jinja"];

/// How small models' f32 weights are stored for the page: q8, a quarter of the size, near-exact.
const SMALL_MODEL_FORMAT: WeightFormat =
    WeightFormat::Quant { scheme: QuantScheme::Q8, group_size: DEFAULT_GROUP_SIZE };
/// How a model over a fetched base is stored for the page: 4-bit with a per-group minimum. The base's Q4_K
/// matrices are exact in it; its Q5_0, Q6_K and Q8_0 ones lose the bits beyond four (docs/performance.md,
/// the page's 0.5B copy), for 376 MiB instead of 620.
const BASE_MODEL_FORMAT: WeightFormat =
    WeightFormat::Quant { scheme: QuantScheme::Q4A, group_size: DEFAULT_GROUP_SIZE };
/// Bump when the conversion changes, so cached copies are made again (2: f16 adapter factors stay f16).
const CACHE_VERSION: &str = "2";

/// What the index says of a page model.
pub struct PageModel {
    pub quant: String,
    pub parameters: usize,
}

/// Writes the page's copy of the model in `source` into `out`; `None` (with the reason printed) when its base
/// cannot be fetched, so the site still builds with the other models.
pub fn write(source: &Path, out: &Path) -> Result<Option<PageModel>> {
    let config_json = std::fs::read_to_string(source.join("config.json"))
        .with_context(|| format!("reading {}/config.json", source.display()))?;
    let page = match BaseModel::of_config(&config_json) {
        None => copy_small(source, out)?,
        Some(base) => {
            let base = base.map_err(anyhow::Error::msg).with_context(|| source.display().to_string())?;
            if fetch_base(&base)?.is_none() {
                println!("  skipped {}: its base {} cannot be fetched (offline?)", source.display(), base.name);
                return Ok(None);
            }
            convert_cached(source, &config_json, out)?
        }
    };
    let recommended = source.join("generation_config.json");
    if recommended.exists() {
        std::fs::copy(&recommended, out.join("generation_config.json")).context("copying generation_config.json")?;
    }
    Ok(Some(page))
}

/// A model shipped whole: f32 weights as [`SMALL_MODEL_FORMAT`], quantized ones copied as they are.
fn copy_small(source: &Path, out: &Path) -> Result<PageModel> {
    let model = ModelDir::open(source).with_context(|| format!("reading {}", source.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let parameters = model.weights.elements();
    let quant = match model.weights.names().into_iter().find_map(|name| model.weights.info(name)?.quantized) {
        Some(scheme) => {
            std::fs::copy(source.join("model.safetensors"), out.join("model.safetensors"))
                .context("copying model.safetensors")?;
            scheme.name().to_owned()
        }
        None => {
            let bytes = convert_weights(&model.config, &model.weights, SMALL_MODEL_FORMAT)?;
            std::fs::write(out.join("model.safetensors"), bytes).context("writing model.safetensors")?;
            format_name(SMALL_MODEL_FORMAT)
        }
    };
    for file in ["config.json", "tokenizer.json", "chat_template.jinja"] {
        if source.join(file).exists() {
            std::fs::copy(source.join(file), out.join(file)).with_context(|| format!("copying {file}"))?;
        }
    }
    Ok(PageModel { quant, parameters })
}

/// A model over a fetched base, composed and converted to [`BASE_MODEL_FORMAT`], or copied from the cache.
fn convert_cached(source: &Path, config_json: &str, out: &Path) -> Result<PageModel> {
    let cached = target_dir().join("page-models").join(cache_key(source, config_json)?);
    let quant = format_name(BASE_MODEL_FORMAT);
    let parameters_file = cached.join("parameters");
    if !parameters_file.exists() {
        let started = Instant::now();
        println!("  converting {} over its base to {BASE_MODEL_FORMAT} (about a minute) …", source.display());
        let model = ModelDir::open(source).with_context(|| format!("reading {}", source.display()))?;
        let partial = cached.with_extension("partial");
        if partial.exists() {
            std::fs::remove_dir_all(&partial).with_context(|| format!("clearing {}", partial.display()))?;
        }
        std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
        let bytes = convert_weights(&model.config, &model.weights, BASE_MODEL_FORMAT)?;
        std::fs::write(partial.join("model.safetensors"), bytes).context("writing model.safetensors")?;
        std::fs::write(partial.join("config.json"), config_json).context("writing config.json")?;
        std::fs::write(partial.join("tokenizer.json"), model.tokenizer.to_json()?).context("writing tokenizer.json")?;
        if let Some(template) = &model.chat_template {
            std::fs::write(partial.join("chat_template.jinja"), template.to_jinja())
                .context("writing chat_template.jinja")?;
        }
        std::fs::write(partial.join("parameters"), model.weights.elements().to_string())
            .context("writing parameters")?;
        // Whole or not at all: an interrupted conversion leaves only the partial directory.
        std::fs::rename(&partial, &cached).with_context(|| format!("moving {} into place", partial.display()))?;
        println!("  converted in {:.0} s (kept in {})", started.elapsed().as_secs_f64(), cached.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for file in ["model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"] {
        let from = cached.join(file);
        if from.exists() {
            link_or_copy(&from, &out.join(file))?;
        }
    }
    let parameters = std::fs::read_to_string(&parameters_file)?.trim().parse().context("the cached parameter count")?;
    Ok(PageModel { quant, parameters })
}

/// The cache directory's name: a hash of the directory's config and weights, the base's file and the format.
fn cache_key(source: &Path, config_json: &str) -> Result<String> {
    let mut hash = Sha256::new();
    hash.update(CACHE_VERSION);
    hash.update(format_name(BASE_MODEL_FORMAT));
    hash.update(config_json);
    let delta = source.join("model.safetensors");
    if delta.exists() {
        hash.update(std::fs::read(&delta).with_context(|| format!("reading {}", delta.display()))?);
    }
    let name = source.file_name().and_then(|n| n.to_str()).context("model name")?;
    let digest: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(format!("{name}-{digest}"))
}

/// The base a model directory names, fetched (and checked by hash) if it is missing; `None` when it cannot be.
fn fetch_base(base: &BaseModel) -> Result<Option<PathBuf>> {
    match base.name.as_str() {
        "qwen2.5-coder-0.5b-instruct" => pretrained::qwen_coder(),
        other => bail!("no fetch is known for the base model {other}"),
    }
}

fn format_name(format: WeightFormat) -> String {
    match format {
        WeightFormat::Quant { scheme, .. } => scheme.name().to_owned(),
        WeightFormat::F16 => "f16".into(),
        WeightFormat::F32 => "f32".into(),
    }
}

/// A hard link where the file system allows one (the site holds the same 400 MB file as the cache), else a copy.
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        std::fs::remove_file(to).with_context(|| format!("replacing {}", to.display()))?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}
