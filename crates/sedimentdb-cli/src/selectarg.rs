//! Which series a command reads: a selector argument and/or `--metric`, shared by the
//! commands that read a selection (query, trend, alert, delete, explain).

use clap::Args;
use sedimentdb::{Aggregate, Selector};

use crate::exit::{CliError, CliResult};

/// A selector (the engine's PromQL-like text form) and `--metric`.
#[derive(Debug, Clone, Args)]
pub struct SelectorArgs {
    /// A selector, e.g. `cpu_usage{host="web-1",region=~"eu-.*"}` (matchers `=`, `!=`,
    /// `=~`, `!~`, `in (...)`, `exists`, `absent`); or give --metric.
    pub selector: Option<String>,

    /// The metric (instead of, or beside, a selector without a metric name).
    #[arg(long)]
    pub metric: Option<String>,
}

impl SelectorArgs {
    /// The selector; `required` refuses a selection of every series.
    pub fn resolve(&self, required: bool) -> CliResult<Selector> {
        let parsed: Selector = match &self.selector {
            Some(text) => text
                .parse()
                .map_err(|e| CliError::new(format!("bad selector {text:?}: {e}")))?,
            None => Selector::any(),
        };
        let selector = match (&self.metric, parsed.metric_name()) {
            (Some(m), Some(n)) if m != n => {
                return Err(CliError::new(format!(
                    "the selector names metric {n:?} and --metric {m:?}: give one"
                )))
            }
            (Some(m), None) => parsed
                .matchers()
                .iter()
                .fold(Selector::metric(m.clone()), |s, m| s.with(m.clone())),
            _ => parsed,
        };
        if required && selector.metric_name().is_none() && selector.matchers().is_empty() {
            return Err(CliError::new(
                "give a selector or --metric (e.g. --metric cpu_usage or 'cpu_usage{host=\"web-1\"}')",
            ));
        }
        Ok(selector)
    }
}

/// Parses `--agg` (the engine's `Aggregate: FromStr`).
pub fn parse_aggregate(text: &str) -> Result<Aggregate, String> {
    text.parse::<Aggregate>().map_err(|e| e.to_string())
}

/// Parses `--where` (the engine's `ValueFilter: FromStr`).
pub fn parse_value_filter(text: &str) -> Result<sedimentdb::query::ValueFilter, String> {
    text.parse().map_err(|e: sedimentdb::Error| e.to_string())
}
