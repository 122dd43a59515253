//! One model as the page downloads it: its weights in the page's format, config, tokenizer, chat template and
//! recommended decoding.
//!
//! A model directory that names a `base_model` (a delta, or a pretrained model shipped as its config and
//! recommended decoding only) is served as the base's weights, converted once into the site's `models/base/`
//! and shared by every model over that base (the browser downloads and caches them once), plus the delta's
//! own `model.safetensors` if it has one. The base is fetched here when it is missing, and its converted copy
//! is kept in `target/page-models/` under a key of everything it is made from, so a second site build
//! (Trunk's, `serve` again) links instead of converting.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use unmask_model::ModelDir;
use unmask_model::base::BaseModel;
use unmask_model::convert::{WeightFormat, convert_weights};
use unmask_model::quant::{DEFAULT_GROUP_SIZE, QuantScheme};

use crate::{pretrained, target_dir};

/// Files a page model may hold; the first three are required, but a model over a shared base may have no weights
/// of its own (web/src/loader.rs).
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
/// Bump when the conversion changes, so cached copies are made again (3: the base converted alone, shared).
const CACHE_VERSION: &str = "3";

/// What the index and manifest say of a page model.
pub struct PageModel {
    pub quant: String,
    pub parameters: usize,
    /// The shared base weights it is composed over (a file in the site's `models/base/`), if any.
    pub base: Option<PathBuf>,
}

/// The site directory, beside the models, of the base weights models share.
pub const BASE_DIR: &str = "base";

/// Writes the page's copy of the model in `source` into `out`; `None` (with the reason printed) when its base
/// cannot be fetched, so the site still builds with the other models.
pub fn write(source: &Path, out: &Path) -> Result<Option<PageModel>> {
    let config_json = std::fs::read_to_string(source.join("config.json"))
        .with_context(|| format!("reading {}/config.json", source.display()))?;
    let page = match BaseModel::of_config(&config_json) {
        None => copy_small(source, out)?,
        Some(base) => {
            let base = base.map_err(anyhow::Error::msg).with_context(|| source.display().to_string())?;
            let Some(gguf) = fetch_base(&base)? else {
                println!("  skipped {}: its base {} cannot be fetched (offline?)", source.display(), base.name);
                return Ok(None);
            };
            let site_models = out.parent().context("a page model's directory has a parent")?;
            let base_file = site_models.join(BASE_DIR).join(format!("{}.safetensors", base.name));
            if !base_file.exists() {
                std::fs::create_dir_all(site_models.join(BASE_DIR)).context("creating the site's base directory")?;
                link_or_copy(&convert_base_cached(&base, &gguf)?, &base_file)?;
            }
            over_base(source, out, base_file)?
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
    Ok(PageModel { quant, parameters, base: None })
}

/// A model over a fetched base: its config, the composed tokenizer and chat template, and the delta's weights
/// as shipped (low-rank factors and a mask embedding in f16: small, and exact as they are).
fn over_base(source: &Path, out: &Path, base_file: PathBuf) -> Result<PageModel> {
    let model = ModelDir::open(source).with_context(|| format!("reading {}", source.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::copy(source.join("config.json"), out.join("config.json")).context("copying config.json")?;
    std::fs::write(out.join("tokenizer.json"), model.tokenizer.to_json()?).context("writing tokenizer.json")?;
    if let Some(template) = &model.chat_template {
        std::fs::write(out.join("chat_template.jinja"), template.to_jinja()).context("writing chat_template.jinja")?;
    }
    if source.join("model.safetensors").exists() {
        std::fs::copy(source.join("model.safetensors"), out.join("model.safetensors"))
            .context("copying the delta's model.safetensors")?;
    }
    Ok(PageModel { quant: format_name(BASE_MODEL_FORMAT), parameters: model.weights.elements(), base: Some(base_file) })
}

/// The base's weights alone converted to [`BASE_MODEL_FORMAT`], from the cache when they were converted before.
fn convert_base_cached(base: &BaseModel, gguf: &Path) -> Result<PathBuf> {
    let size = std::fs::metadata(gguf).with_context(|| format!("reading {}", gguf.display()))?.len();
    let mut hash = Sha256::new();
    for part in [CACHE_VERSION, &format_name(BASE_MODEL_FORMAT), &base.name, &base.file, &size.to_string()] {
        hash.update(part);
        hash.update([0]);
    }
    let digest: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let cached = target_dir().join("page-models").join(format!("{}-{digest}.safetensors", base.name));
    if !cached.exists() {
        let started = Instant::now();
        println!("  converting the base {} to {BASE_MODEL_FORMAT} (about a minute) …", base.name);
        let model = ModelDir::open(gguf).with_context(|| format!("reading {}", gguf.display()))?;
        let bytes = convert_weights(&model.config, &model.weights, BASE_MODEL_FORMAT)?;
        std::fs::create_dir_all(cached.parent().context("the cache's directory")?)?;
        // Whole or not at all: an interrupted conversion leaves only the partial file.
        let partial = cached.with_extension("partial");
        std::fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, &cached).with_context(|| format!("moving {} into place", partial.display()))?;
        println!("  converted in {:.0} s (kept in {})", started.elapsed().as_secs_f64(), cached.display());
    }
    Ok(cached)
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
