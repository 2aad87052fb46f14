//! Token pricing: one table of input and output prices per model, loaded from `config/pricing.json`
//! (built in) or an operator's file, and the cost estimate of one call.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The pricing table shipped with the binaries.
pub const BUILTIN_PRICING_JSON: &str = include_str!("../../config/pricing.json");

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct ModelPrice {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

#[derive(Debug, Deserialize)]
struct PricingFile {
    fallback: ModelPrice,
    providers: BTreeMap<String, BTreeMap<String, ModelPrice>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("pricing table is not valid JSON of the expected shape: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("pricing table has a negative or non-finite price for {0}")]
    BadPrice(String),
}

/// How a cost was priced: an exact or prefix entry, or the documented fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct CostEstimate {
    pub usd: f64,
    /// The table entry used (`openai/gpt-4o-mini`), or `fallback`.
    pub priced_as: String,
    pub fallback: bool,
}

/// Model prices by provider. Lookup: exact model name, then the longest listed name that the model
/// starts with, across the named provider first and then all providers; otherwise the fallback.
#[derive(Debug, Clone)]
pub struct PricingTable {
    fallback: ModelPrice,
    providers: BTreeMap<String, BTreeMap<String, ModelPrice>>,
}

fn valid(price: &ModelPrice) -> bool {
    price.input_per_mtok.is_finite()
        && price.output_per_mtok.is_finite()
        && price.input_per_mtok >= 0.0
        && price.output_per_mtok >= 0.0
}

impl PricingTable {
    pub fn from_json(json: &str) -> Result<Self, PricingError> {
        let file: PricingFile = serde_json::from_str(json)?;
        if !valid(&file.fallback) {
            return Err(PricingError::BadPrice("fallback".to_owned()));
        }
        for (provider, models) in &file.providers {
            for (model, price) in models {
                if !valid(price) {
                    return Err(PricingError::BadPrice(format!("{provider}/{model}")));
                }
            }
        }
        Ok(PricingTable {
            fallback: file.fallback,
            providers: file.providers,
        })
    }

    pub fn builtin() -> Result<Self, PricingError> {
        Self::from_json(BUILTIN_PRICING_JSON)
    }

    fn lookup_in<'a>(
        models: &'a BTreeMap<String, ModelPrice>,
        model: &str,
    ) -> Option<(&'a str, &'a ModelPrice)> {
        if let Some((name, price)) = models.get_key_value(model) {
            return Some((name, price));
        }
        models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(name, price)| (name.as_str(), price))
    }

    /// The price entry for `provider`/`model`, or `None` when only the fallback applies.
    /// Every listed price: provider, model, price.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, ModelPrice)> {
        self.providers.iter().flat_map(|(provider, models)| {
            models
                .iter()
                .map(move |(model, price)| (provider.as_str(), model.as_str(), *price))
        })
    }

    /// The provider's model with the lowest listed price (input plus output per million tokens) when
    /// it is cheaper than `model`: what a `downgrade` budget switches to. `None` when `model` is
    /// already the cheapest or the provider lists no models.
    pub fn cheaper_model(&self, provider: &str, model: &str) -> Option<&str> {
        let total = |price: &ModelPrice| price.input_per_mtok + price.output_per_mtok;
        let (cheapest, price) = self
            .providers
            .get(provider)?
            .iter()
            .min_by(|a, b| total(a.1).total_cmp(&total(b.1)))?;
        let current = self
            .price_of(provider, model)
            .map_or(total(&self.fallback), |(_, price)| total(&price));
        (total(price) < current).then_some(cheapest.as_str())
    }

    /// The built-in table, or the operator's file at `path`.
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, String> {
        match path {
            None => PricingTable::builtin().map_err(|e| format!("built-in pricing table: {e}")),
            Some(path) => {
                let json = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read pricing table {}: {e}", path.display()))?;
                PricingTable::from_json(&json)
                    .map_err(|e| format!("pricing table {}: {e}", path.display()))
            }
        }
    }

    pub fn price_of(&self, provider: &str, model: &str) -> Option<(String, ModelPrice)> {
        let model = model.trim().to_ascii_lowercase();
        if let Some(models) = self.providers.get(provider) {
            if let Some((name, price)) = Self::lookup_in(models, &model) {
                return Some((format!("{provider}/{name}"), *price));
            }
        }
        self.providers
            .iter()
            .filter_map(|(p, models)| {
                Self::lookup_in(models, &model).map(|(name, price)| (p, name, price))
            })
            .max_by_key(|(_, name, _)| name.len())
            .map(|(p, name, price)| (format!("{p}/{name}"), *price))
    }

    pub fn estimate(
        &self,
        provider: &str,
        model: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> CostEstimate {
        let (priced_as, price, fallback) = match self.price_of(provider, model) {
            Some((name, price)) => (name, price, false),
            // A model served on the operator's own machines (Ollama) costs nothing unless listed.
            None if provider == "ollama" => (
                "ollama/local".to_owned(),
                ModelPrice {
                    input_per_mtok: 0.0,
                    output_per_mtok: 0.0,
                },
                false,
            ),
            None => ("fallback".to_owned(), self.fallback, true),
        };
        // Token counts are far below 2^52, so the conversions are exact.
        let usd = (prompt_tokens as f64 * price.input_per_mtok
            + completion_tokens as f64 * price.output_per_mtok)
            / 1_000_000.0;
        CostEstimate {
            usd,
            priced_as,
            fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(provider: &str, model: &str, expected_entry: &str, expected_usd: f64) {
        let table = PricingTable::builtin().expect("built-in table parses");
        let estimate = table.estimate(provider, model, 1_000_000, 1_000_000);
        assert_eq!(estimate.priced_as, expected_entry, "{provider}/{model}");
        assert!(
            (estimate.usd - expected_usd).abs() < 1e-9,
            "{provider}/{model}: {}",
            estimate.usd
        );
        assert_eq!(estimate.fallback, expected_entry == "fallback");
    }

    #[test]
    fn lookups() {
        check("openai", "gpt-4o-mini", "openai/gpt-4o-mini", 0.75);
        check("ollama", "llama3.2", "ollama/local", 0.0);
        check("azure-openai", "gpt-4o-mini", "openai/gpt-4o-mini", 0.75);
        check(
            "bedrock",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "bedrock/anthropic.claude-3-5-haiku",
            4.8,
        );
        check(
            "openai",
            "gpt-4o-mini-2024-07-18",
            "openai/gpt-4o-mini",
            0.75,
        );
        check("openai", "gpt-4o-2024-08-06", "openai/gpt-4o", 12.5);
        check("openai", "GPT-4.1-nano", "openai/gpt-4.1-nano", 0.5);
        check("openai", "o3-mini", "openai/o3-mini", 5.5);
        check(
            "openai",
            "claude-3-5-haiku-20241022",
            "anthropic/claude-3-5-haiku",
            4.8,
        );
        check(
            "anthropic",
            "claude-sonnet-4-5-20250929",
            "anthropic/claude-sonnet-4-5",
            18.0,
        );
        check(
            "gemini",
            "gemini-2.5-flash-lite",
            "gemini/gemini-2.5-flash-lite",
            0.5,
        );
        check("openai", "my-finetune", "fallback", 12.5);
    }

    #[test]
    fn separate_input_and_output_prices() {
        let table = PricingTable::builtin().expect("parses");
        let estimate = table.estimate("openai", "gpt-4o-mini", 1000, 500);
        assert!((estimate.usd - (1000.0 * 0.15 + 500.0 * 0.60) / 1e6).abs() < 1e-15);
    }

    #[test]
    fn downgrades_go_to_the_cheapest_listed_model_only_when_cheaper() {
        let table = PricingTable::from_json(
            r#"{"fallback":{"input_per_mtok":5,"output_per_mtok":5},
                "providers":{"p":{"big":{"input_per_mtok":3,"output_per_mtok":9},
                                  "small":{"input_per_mtok":0.1,"output_per_mtok":0.4}},
                             "q":{}}}"#,
        )
        .expect("parses");
        assert_eq!(table.cheaper_model("p", "big-2025"), Some("small"));
        assert_eq!(table.cheaper_model("p", "unlisted"), Some("small"));
        assert_eq!(table.cheaper_model("p", "small"), None);
        assert_eq!(table.cheaper_model("q", "big"), None);
        assert_eq!(table.cheaper_model("none", "big"), None);
    }

    #[test]
    fn rejects_bad_tables() {
        assert!(PricingTable::from_json("{}").is_err());
        let negative = r#"{"fallback":{"input_per_mtok":1,"output_per_mtok":1},
            "providers":{"x":{"m":{"input_per_mtok":-1,"output_per_mtok":1}}}}"#;
        assert!(
            matches!(PricingTable::from_json(negative), Err(PricingError::BadPrice(entry)) if entry == "x/m")
        );
    }
}
