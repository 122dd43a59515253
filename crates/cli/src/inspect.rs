use std::path::PathBuf;

use anyhow::Result;
use unmask_model::ModelDir;

#[derive(clap::Args)]
pub struct Args {
    /// A Hugging Face model directory (config.json, *.safetensors, tokenizer.json) or a GGUF file.
    model_dir: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let model = ModelDir::open(&args.model_dir)?;
    let c = &model.config;
    let stored = model.weights.elements();
    let token = |id: u32| model.tokenizer.id_to_token(id).unwrap_or_else(|| "?".into());
    let dtypes: Vec<String> =
        model.weights.dtype_histogram().into_iter().map(|(dtype, n)| format!("{dtype} {}", human_count(n))).collect();

    println!("model        {}", model.name);
    let attention = match c.attention {
        unmask_model::AttentionKind::BlockCausal { block_size } => {
            format!("block-causal attention, blocks of {block_size}")
        }
        unmask_model::AttentionKind::MasksSeeBlock { block_size } => {
            let adapters = c.adapter_rank.map(|r| format!(", rank-{r} adapters on mask rows")).unwrap_or_default();
            format!("mask-gated attention (tokens causal, masks see their block of {block_size}){adapters}")
        }
        kind => format!("{} attention", kind.name()),
    };
    println!(
        "architecture {} ({}), {} layers, {attention}",
        c.model_type,
        c.architecture.spec().name,
        c.num_hidden_layers
    );
    println!("hidden       {} (intermediate {}, SwiGLU)", c.hidden_size, c.intermediate_size);
    println!(
        "attention    {} query heads, {} key/value heads (group {}), head dim {}, q/k/v bias {}",
        c.num_attention_heads,
        c.num_key_value_heads,
        c.group_size(),
        c.head_dim,
        yes_no(c.qkv_bias)
    );
    // Shown at f32 precision: a GGUF file stores it as f32 (1e-5 would print as 9.999999747378752e-6).
    println!("rope         theta {}, rms_norm_eps {:e}", c.rope_theta, c.rms_norm_eps as f32);
    println!(
        "vocab        {} (tokenizer {}), tied embeddings {}",
        c.vocab_size,
        model.tokenizer.vocab_size(),
        yes_no(c.tie_word_embeddings)
    );
    println!("context      {} tokens", c.max_position_embeddings);
    println!("mask token   {} {:?}", c.mask_token_id, token(c.mask_token_id));
    let eos: Vec<String> = c.eos_token_ids.iter().map(|&id| format!("{id} {:?}", token(id))).collect();
    println!("end tokens   {}", if eos.is_empty() { "none".into() } else { eos.join(", ") });
    println!(
        "logit shift  {}",
        if c.shift_logits { "yes (position i predicted from i-1, as Dream/DiffuCoder)" } else { "no" }
    );
    println!("parameters   {} ({} stored)", human_count(c.parameter_count()), with_separators(stored));
    println!("dtype        {}", dtypes.join(", "));
    println!("size         {}", human_bytes(model.weights.total_bytes()));
    if let Some(template) = &model.chat_template {
        let system = template.default_system.as_deref().map_or(String::new(), |s| format!(", default system {s:?}"));
        println!("chat         ChatML template{system} (prompts default to --prompt-format chat_opened)");
    }
    for note in &model.notes {
        println!("note         {note}");
    }
    // A GGUF file's tensors sit in safetensors images made while importing: their metadata is ours, not the file's.
    if args.model_dir.is_dir() {
        for (key, value) in model.weights.file_metadata() {
            println!("metadata     {key} = {value}");
        }
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub fn human_count(n: usize) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2} M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.1} K", n as f64 / 1e3),
        n => n.to_string(),
    }
}

pub fn human_bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.2} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// 630167424 → "630,167,424".
fn with_separators(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}
