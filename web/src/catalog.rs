//! `models/index.json`: the models the site ships, and which one the page loads.
//!
//! Each model suits some backends: a large one runs at an interactive pace on a hardware WebGPU adapter or on
//! a pool of CPU workers, while one CPU worker (and a software adapter) needs a small one. So with no model
//! named in the link the page loads the largest model on hardware WebGPU and, elsewhere, the largest the CPU
//! workers run at an interactive pace ([`cpu_worker_max_parameters`]; the smallest if none is that small).

use serde::Deserialize;

/// Where the site build writes the models, relative to the page.
pub const MODELS_BASE: &str = "models/";

/// The largest model the CPU workers get by default on a pool of `workers`: the largest whose steps after the
/// first stay under 150 ms there (docs/performance.md, two cores): on two workers or more the 0.5B diffusion
/// coder (142 ms in blocks of 4; the larger of the two 0.5B models, by its adapters), on one the 135 M model
/// (69 ms), where the 0.5B coder takes 178 ms.
pub fn cpu_worker_max_parameters(workers: usize) -> u64 {
    if workers >= 2 { 700_000_000 } else { 150_000_000 }
}

/// One shipped model, as the index lists it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct CatalogEntry {
    pub name: String,
    /// The weight format, e.g. "q8".
    pub quant: String,
    pub parameters: u64,
    /// What the page downloads for it.
    pub bytes: u64,
}

impl CatalogEntry {
    /// The model's directory URL, ending in `/`.
    pub fn base(&self) -> String {
        format!("{MODELS_BASE}{}/", self.name)
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Catalog {
    pub models: Vec<CatalogEntry>,
}

impl Catalog {
    /// Parses the index: at least one model, each named once by a plain directory name.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let catalog: Catalog = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if catalog.models.is_empty() {
            return Err("it lists no model".into());
        }
        for (i, model) in catalog.models.iter().enumerate() {
            let name = &model.name;
            if name.is_empty()
                || name.starts_with('.')
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!("model name {name:?} is not a plain directory name"));
            }
            if catalog.models[..i].iter().any(|m| &m.name == name) {
                return Err(format!("{name} is listed twice"));
            }
        }
        Ok(catalog)
    }

    /// The model to load: the one the link names if the index has it (else a warning), otherwise the largest
    /// where a hardware WebGPU adapter will run it, and elsewhere the largest that `cpu_workers` CPU workers
    /// run at an interactive pace (the smallest if none is small enough).
    pub fn pick(
        &self,
        requested: Option<&str>,
        hardware_gpu: bool,
        cpu_workers: usize,
    ) -> (&CatalogEntry, Option<String>) {
        let by_size = |m: &&CatalogEntry| m.parameters;
        let default = if hardware_gpu {
            self.models.iter().max_by_key(by_size)
        } else {
            let budget = cpu_worker_max_parameters(cpu_workers);
            let fits = self.models.iter().filter(|m| m.parameters <= budget).max_by_key(by_size);
            fits.or_else(|| self.models.iter().min_by_key(by_size))
        };
        let default = default.expect("parse checked that the index lists a model");
        match requested {
            None => (default, None),
            Some(name) => match self.models.iter().find(|m| m.name == name) {
                Some(model) => (model, None),
                None => {
                    let known = self.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ");
                    (
                        default,
                        Some(format!("link parameter model: no model {name:?} here ({known}); using {}", default.name)),
                    )
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::parse(
            r#"{"models": [
                {"name": "big", "quant": "q4a", "parameters": 630000000, "bytes": 420000000},
                {"name": "small", "quant": "q8", "parameters": 4000000, "bytes": 5000000}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_backend_picks_the_model_unless_the_link_names_one() {
        let c = catalog();
        assert_eq!(c.pick(None, true, 1).0.name, "big");
        assert_eq!(c.pick(None, false, 1).0.name, "small");
        assert_eq!(c.pick(Some("big"), false, 1), (&c.models[0], None));
        let (model, warning) = c.pick(Some("huge"), false, 1);
        assert_eq!(model.name, "small");
        assert!(warning.unwrap().contains("no model \"huge\" here (big, small)"));
        assert_eq!(c.models[1].base(), "models/small/");
    }

    #[test]
    fn the_cpu_workers_get_the_largest_model_within_their_budget() {
        let mut c = catalog();
        c.models.push(CatalogEntry { name: "student".into(), quant: "q8".into(), parameters: 36_000_000, bytes: 1 });
        assert_eq!(c.pick(None, false, 1).0.name, "student");
        assert_eq!(c.pick(None, true, 1).0.name, "big");
        // A pool runs the 0.5B models (630 M weights and more); one worker does not.
        assert_eq!(c.pick(None, false, 2).0.name, "big");
        assert_eq!(c.pick(None, false, 4).0.name, "big");
        // Nothing small enough: the smallest there is.
        c.models.retain(|m| m.name == "big");
        c.models.push(CatalogEntry { name: "medium".into(), quant: "q8".into(), parameters: 200_000_000, bytes: 1 });
        assert_eq!(c.pick(None, false, 1).0.name, "medium");
    }

    #[test]
    fn a_bad_index_is_an_error() {
        for (text, why) in [
            (r#"{"models": []}"#, "lists no model"),
            (r#"{"models": [{"name": "../x", "quant": "q8", "parameters": 1, "bytes": 1}]}"#, "plain directory"),
            (
                r#"{"models": [{"name": "a", "quant": "q8", "parameters": 1, "bytes": 1},
                               {"name": "a", "quant": "q8", "parameters": 1, "bytes": 1}]}"#,
                "listed twice",
            ),
            ("<html>", "expected value"),
        ] {
            let error = Catalog::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
