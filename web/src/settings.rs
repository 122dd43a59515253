//! Everything a run depends on — prompt, every decoding parameter, the backend choice — and its round trip
//! through the page's URL. Plain Rust (no DOM), so the rules are tested natively and in the browser.
//!
//! The URL is the page's single source of truth for a run: opening a shared link reproduces it exactly, and a
//! value from a link that is out of range is clamped with a warning, never applied silently or panicked on.

use unmask_sampler::params::{MAX_STEPS, MAX_TEMPERATURE};
use unmask_sampler::{Algorithm, DreamAlg, Remasking, SamplerConfig};

/// The remasking strategies a user picks from: each is an algorithm plus the rule it ranks positions by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Dream(DreamAlg),
    Llada(Remasking),
    Threshold,
    LeftToRight,
}

impl Strategy {
    pub const ALL: [Strategy; 8] = [
        Strategy::Dream(DreamAlg::Entropy),
        Strategy::Dream(DreamAlg::MaskgitPlus),
        Strategy::Dream(DreamAlg::TopkMargin),
        Strategy::Dream(DreamAlg::Origin),
        Strategy::Llada(Remasking::LowConfidence),
        Strategy::Llada(Remasking::Random),
        Strategy::Threshold,
        Strategy::LeftToRight,
    ];

    /// The name in URLs and in the select box.
    pub fn id(self) -> &'static str {
        match self {
            Strategy::Dream(DreamAlg::Entropy) => "entropy",
            Strategy::Dream(DreamAlg::MaskgitPlus) => "maskgit_plus",
            Strategy::Dream(DreamAlg::TopkMargin) => "topk_margin",
            Strategy::Dream(DreamAlg::Origin) => "origin",
            Strategy::Llada(Remasking::LowConfidence) => "low_confidence",
            Strategy::Llada(Remasking::Random) => "random",
            Strategy::Threshold => "threshold",
            Strategy::LeftToRight => "left_to_right",
        }
    }

    pub fn from_id(id: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The strategy a sampler configuration describes (its algorithm and that algorithm's ranking rule).
    pub fn of(config: &SamplerConfig) -> Strategy {
        match config.algorithm {
            Algorithm::Dream => Strategy::Dream(config.alg),
            Algorithm::Llada => Strategy::Llada(config.remasking),
            Algorithm::Threshold => Strategy::Threshold,
            Algorithm::LeftToRight => Strategy::LeftToRight,
        }
    }

    /// One line for the select box.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::Dream(DreamAlg::Entropy) => "Dream · entropy (lowest entropy first)",
            Strategy::Dream(DreamAlg::MaskgitPlus) => "Dream · maskgit_plus (most probable first)",
            Strategy::Dream(DreamAlg::TopkMargin) => "Dream · topk_margin (largest margin first)",
            Strategy::Dream(DreamAlg::Origin) => "Dream · origin (random positions)",
            Strategy::Llada(Remasking::LowConfidence) => "LLaDA · low_confidence (blocks)",
            Strategy::Llada(Remasking::Random) => "LLaDA · random (blocks)",
            Strategy::Threshold => "Fast-dLLM · confidence threshold (blocks)",
            Strategy::LeftToRight => "Left to right (autoregressive baseline)",
        }
    }

    pub fn algorithm(self) -> Algorithm {
        match self {
            Strategy::Dream(_) => Algorithm::Dream,
            Strategy::Llada(_) => Algorithm::Llada,
            Strategy::Threshold => Algorithm::Threshold,
            Strategy::LeftToRight => Algorithm::LeftToRight,
        }
    }

    /// Which controls mean something under this strategy (the others are shown disabled).
    pub fn uses(self, control: Control) -> bool {
        let a = self.algorithm();
        match control {
            Control::Steps => matches!(a, Algorithm::Dream | Algorithm::Llada),
            Control::TopP | Control::TopK => a != Algorithm::Llada,
            Control::AlgTemp => matches!(self, Strategy::Dream(alg) if alg != DreamAlg::Origin),
            Control::BlockLength => matches!(a, Algorithm::Llada | Algorithm::Threshold),
            Control::Threshold => a == Algorithm::Threshold,
            Control::Temperature | Control::Length | Control::Seed => true,
        }
    }
}

/// The numeric controls, for [`Strategy::uses`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Temperature,
    Steps,
    Length,
    TopP,
    TopK,
    AlgTemp,
    BlockLength,
    Threshold,
    Seed,
}

/// Which engine runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// Measure both at start-up and take the faster.
    Auto,
    /// The WGSL engine on WebGPU.
    Gpu,
    /// The CPU engine in a Web Worker.
    Cpu,
}

impl BackendChoice {
    pub fn id(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Gpu => "webgpu",
            BackendChoice::Cpu => "cpu",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        [BackendChoice::Auto, BackendChoice::Gpu, BackendChoice::Cpu].into_iter().find(|b| b.id() == id)
    }
}

/// What the page does with the settings: one run to watch, or many samples to choose among.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One decode, animated step by step.
    Watch,
    /// Many decodes together, judged on the docstring's examples in the sandbox and grouped by behaviour.
    Solve,
    /// The decode the settings ask for beside a left-to-right one of the same model.
    Compare,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Watch, Mode::Solve, Mode::Compare];

    pub fn id(self) -> &'static str {
        match self {
            Mode::Watch => "watch",
            Mode::Solve => "solve",
            Mode::Compare => "compare",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.id() == id)
    }
}

/// The samples a Solve run may take (the slider's range); sample i decodes with seed + i.
pub const MIN_SAMPLES: u32 = 2;
pub const MAX_SAMPLES: u32 = 32;
/// The most Web Workers a model is split over.
pub const MAX_WORKERS: u32 = 8;

/// The longest answer a slider offers; the model's context may cut it further.
pub const MAX_LENGTH: u32 = 512;
/// The longest canvas (prompt and answer) the page's engines are sized for: the longest answer and a prompt of
/// a thousand tokens. A model's own context can be far longer, and Qwen2.5's 32,768 positions would size the
/// engines' activations in gigabytes.
pub const PAGE_CONTEXT: usize = 1536;

/// The canvas length the page allows for `config`'s model.
pub fn page_context(config: &unmask_model::ModelConfig) -> usize {
    config.max_position_embeddings.min(PAGE_CONTEXT)
}
/// The largest seed a link may carry (JavaScript numbers are exact up to 2^53).
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// A run's full description.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub prompt: String,
    pub strategy: Strategy,
    pub sampler: SamplerConfig,
    pub backend: BackendChoice,
    pub mode: Mode,
    /// Samples of a Solve run.
    pub samples: u32,
    /// The model (a name from `models/index.json`); `None` until the page has picked one.
    pub model: Option<String>,
    /// Web Workers the CPU engine runs on (`exchange::workers_for`); `None`: as many as suit the model.
    pub workers: Option<u32>,
}

/// Built-in prompts: Python signatures with docstrings, one with holes to infill.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("Sum of a list", "def sum_list(xs):\n    \"\"\"Return the sum of the numbers in xs.\"\"\"\n"),
    (
        "Is palindrome",
        "def is_palindrome(s: str) -> bool:\n    \"\"\"Return True if s reads the same forwards and backwards.\"\"\"\n",
    ),
    ("Fibonacci", "def fib(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    (
        "Count words",
        "def count_words(text):\n    \"\"\"Return a dict mapping each word in text to how often it occurs.\"\"\"\n",
    ),
    (
        "Solve: fill in the operator (examples)",
        "def add(a, b):\n    \"\"\"Return the sum of a and b.\n\n    >>> add(2, 3)\n    5\n    >>> add(-1, 1)\n    0\n    \"\"\"\n    return a <|mask|> b\n",
    ),
    (
        "Solve: add two numbers (examples)",
        "def add(a, b):\n    \"\"\"Return the sum of a and b.\n\n    >>> add(2, 3)\n    5\n    >>> add(-1, 1)\n    0\n    \"\"\"\n",
    ),
    (
        "Infill the middle",
        "def maximum(xs):\n    \"\"\"Return the largest element of xs.\"\"\"\n    best = xs[0]\n    for x in xs:\n<|mask|><|mask|><|mask|><|mask|><|mask|><|mask|><|mask|><|mask|><|mask|><|mask|><|mask|><|mask|>\n    return best\n",
    ),
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prompt: EXAMPLES[0].1.to_owned(),
            strategy: Strategy::Dream(DreamAlg::Entropy),
            sampler: SamplerConfig { max_new_tokens: 48, steps: 24, temperature: 0.2, ..SamplerConfig::DEFAULT },
            backend: BackendChoice::Auto,
            mode: Mode::Watch,
            samples: 8,
            model: None,
            workers: None,
        }
    }
}

impl Settings {
    /// The page's defaults for a model that recommends `decoding` (its `generation_config.json`): its strategy
    /// and parameters, with the page's seed. (The algorithm lives in `strategy`; [`Settings::run_config`]
    /// writes it into the sampler configuration.)
    pub fn recommended(decoding: &SamplerConfig) -> Settings {
        let page = Settings::default();
        let ps = &page.sampler;
        let sampler = SamplerConfig {
            algorithm: ps.algorithm,
            alg: ps.alg,
            remasking: ps.remasking,
            seed: ps.seed,
            ..decoding.clone()
        };
        Settings { strategy: Strategy::of(decoding), sampler, ..page }
    }

    /// The sampler configuration a run uses: the strategy applied, and filters the algorithm does not
    /// support switched off (their sliders are disabled, not reset, so switching back restores them).
    pub fn run_config(&self) -> SamplerConfig {
        let mut c = self.sampler.clone();
        c.algorithm = self.strategy.algorithm();
        match self.strategy {
            Strategy::Dream(alg) => c.alg = alg,
            Strategy::Llada(remasking) => {
                c.remasking = remasking;
                c.top_p = 1.0;
                c.top_k = 0;
            }
            Strategy::Threshold | Strategy::LeftToRight => {}
        }
        c
    }

    /// The URL query pairs, in a fixed order; values equal to `defaults` (the model's, which the model's name
    /// in the link selects) are left out so links stay short.
    pub fn to_pairs(&self, defaults: &Settings) -> Vec<(&'static str, String)> {
        let d = defaults;
        let (s, ds) = (&self.sampler, &d.sampler);
        let mut pairs = vec![("prompt", self.prompt.clone()), ("strategy", self.strategy.id().to_owned())];
        let mut put = |name: &'static str, value: String, default: String| {
            if value != default {
                pairs.push((name, value));
            }
        };
        put("temperature", s.temperature.to_string(), ds.temperature.to_string());
        put("steps", s.steps.to_string(), ds.steps.to_string());
        put("length", s.max_new_tokens.to_string(), ds.max_new_tokens.to_string());
        put("top_p", s.top_p.to_string(), ds.top_p.to_string());
        put("top_k", s.top_k.to_string(), ds.top_k.to_string());
        put("alg_temp", s.alg_temp.to_string(), ds.alg_temp.to_string());
        put("block_length", s.block_length.to_string(), ds.block_length.to_string());
        put("threshold", s.threshold.to_string(), ds.threshold.to_string());
        put("align_blocks", s.align_blocks.to_string(), ds.align_blocks.to_string());
        put("stop_at_end", s.stop_at_end.to_string(), ds.stop_at_end.to_string());
        put("backend", self.backend.id().to_owned(), d.backend.id().to_owned());
        put("mode", self.mode.id().to_owned(), d.mode.id().to_owned());
        put("samples", self.samples.to_string(), d.samples.to_string());
        pairs.push(("seed", s.seed.to_string()));
        if let Some(model) = &self.model {
            pairs.push(("model", model.clone()));
        }
        if let Some(workers) = self.workers.filter(|w| Some(*w) != d.workers) {
            pairs.push(("workers", workers.to_string()));
        }
        pairs
    }

    /// Settings from URL query pairs over `defaults`: unknown names are ignored, missing ones take the
    /// defaults, and every value that does not parse or is out of range keeps the default, with a warning for
    /// the page to show.
    pub fn from_pairs<'a>(
        defaults: Settings,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (Settings, Vec<String>) {
        let mut settings = defaults;
        let mut warnings = Vec::new();
        for (name, value) in pairs {
            let s = &mut settings.sampler;
            let result = match name {
                "prompt" => {
                    settings.prompt = value.to_owned();
                    Ok(())
                }
                "strategy" => Strategy::from_id(value)
                    .map(|strategy| settings.strategy = strategy)
                    .ok_or_else(|| format!("unknown strategy {value:?}")),
                "backend" => BackendChoice::from_id(value)
                    .map(|b| settings.backend = b)
                    .ok_or_else(|| format!("unknown backend {value:?} (auto, webgpu or cpu)")),
                "mode" => Mode::from_id(value)
                    .map(|m| settings.mode = m)
                    .ok_or_else(|| format!("unknown mode {value:?} (watch or solve)")),
                "samples" => parse_in(value, MIN_SAMPLES, MAX_SAMPLES).map(|v| settings.samples = v),
                "temperature" => parse_in(value, 0.0, MAX_TEMPERATURE).map(|v| s.temperature = v),
                "steps" => parse_in(value, 1, MAX_STEPS).map(|v| s.steps = v),
                "length" => parse_in(value, 0, MAX_LENGTH).map(|v| s.max_new_tokens = v),
                "top_p" => parse_in(value, 0.01, 1.0).map(|v| s.top_p = v),
                "top_k" => parse_in(value, 0, 100_000).map(|v| s.top_k = v),
                "alg_temp" => parse_in(value, 0.0, MAX_TEMPERATURE).map(|v| s.alg_temp = v),
                "block_length" => parse_in(value, 1, MAX_STEPS).map(|v| s.block_length = v),
                "threshold" => parse_in(value, 0.01, 1.0).map(|v| s.threshold = v),
                "seed" => parse_in(value, 0, MAX_SEED).map(|v| s.seed = v),
                "align_blocks" => parse_bool(value).map(|v| s.align_blocks = v),
                "stop_at_end" => parse_bool(value).map(|v| s.stop_at_end = v),
                "model" => {
                    settings.model = Some(value.to_owned());
                    Ok(())
                }
                "workers" => parse_in(value, 1, MAX_WORKERS).map(|v| settings.workers = Some(v)),
                _ => Ok(()),
            };
            if let Err(message) = result {
                warnings.push(format!("link parameter {name}: {message}"));
            }
        }
        (settings, warnings)
    }
}

/// `value` as a boolean: `true` or `false`, nothing else.
fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{value:?} is not true or false; using the default")),
    }
}

/// `value` parsed, if it lies in `min..=max`.
fn parse_in<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display,
{
    let parsed: T = value.trim().parse().map_err(|_| format!("{value:?} is not a number; using the default"))?;
    // Written as comparisons so that NaN counts as out of range.
    if parsed >= min && parsed <= max {
        Ok(parsed)
    } else {
        Err(format!("{value} is outside {min}–{max}; using the default"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(settings: &Settings, defaults: &Settings) -> (Settings, Vec<String>) {
        let pairs = settings.to_pairs(defaults);
        Settings::from_pairs(defaults.clone(), pairs.iter().map(|(k, v)| (*k, v.as_str())))
    }

    #[test]
    fn every_setting_survives_the_url() {
        let settings = Settings {
            prompt: "def f(x):\n    <|mask|> # ünïcode & = ?\n".into(),
            strategy: Strategy::Llada(Remasking::Random),
            sampler: SamplerConfig {
                temperature: 0.7,
                steps: 17,
                max_new_tokens: 99,
                top_p: 0.85,
                top_k: 12,
                alg_temp: 0.3,
                block_length: 8,
                threshold: 0.6,
                align_blocks: true,
                stop_at_end: true,
                seed: MAX_SEED,
                ..SamplerConfig::DEFAULT
            },
            backend: BackendChoice::Cpu,
            mode: Mode::Solve,
            samples: 32,
            model: Some("unmask-coder".into()),
            workers: Some(2),
        };
        let page = Settings::default();
        assert_eq!(round_trip(&settings, &page), (settings.clone(), vec![]));
        assert_eq!(round_trip(&page, &page), (page.clone(), vec![]));
        // Against a model's own defaults: what equals them is left out, and read back from them.
        let recommended = SamplerConfig {
            algorithm: Algorithm::Llada,
            remasking: Remasking::LowConfidence,
            steps: 128,
            max_new_tokens: 128,
            block_length: 16,
            align_blocks: true,
            temperature: 0.0,
            stop_at_end: true,
            ..SamplerConfig::DEFAULT
        };
        let model = Settings::recommended(&recommended);
        assert_eq!(model.strategy, Strategy::Llada(Remasking::LowConfidence));
        assert_eq!(model.run_config().steps, 128);
        assert!(model.to_pairs(&model).iter().all(|(name, _)| ["prompt", "strategy", "seed"].contains(name)));
        assert_eq!(round_trip(&model, &model), (model.clone(), vec![]));
        assert_eq!(round_trip(&page, &model), (page.clone(), vec![]));
        assert_eq!(round_trip(&settings, &model), (settings, vec![]));
    }

    #[test]
    fn bad_link_values_fall_back_with_a_warning() {
        let (settings, warnings) = Settings::from_pairs(
            Settings::default(),
            [
                ("steps", "100000"),
                ("temperature", "NaN"),
                ("top_p", "abc"),
                ("strategy", "magic"),
                ("seed", "-1"),
                ("unknown", "ignored"),
                ("mode", "race"),
                ("samples", "1000"),
                ("align_blocks", "yes"),
                ("stop_at_end", "1"),
                ("workers", "0"),
                ("workers", "64"),
            ],
        );
        assert_eq!(settings, Settings::default());
        assert_eq!(warnings.len(), 11, "{warnings:?}");
        assert!(warnings[0].contains("steps") && warnings[0].contains("outside 1–4096"), "{warnings:?}");
    }

    #[test]
    fn strategies_round_trip_by_id_and_give_valid_configs() {
        for strategy in Strategy::ALL {
            assert_eq!(Strategy::from_id(strategy.id()), Some(strategy));
            let settings = Settings {
                strategy,
                sampler: SamplerConfig { top_p: 0.9, ..Settings::default().sampler },
                ..Settings::default()
            };
            settings.run_config().validate().unwrap_or_else(|e| panic!("{strategy:?}: {e}"));
            assert_eq!(settings.run_config().algorithm, strategy.algorithm());
        }
    }
}
