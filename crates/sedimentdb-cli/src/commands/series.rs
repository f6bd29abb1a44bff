//! `sediment series [SELECTOR]`: the series matching a selector, with their attributes.

use clap::Args;
use sedimentdb::Selector;

use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;

/// Arguments of `series`.
#[derive(Debug, Args)]
pub struct SeriesArgs {
    /// A selector in the engine's PromQL-like syntax, e.g. `cpu_usage{host=~"web-.*"}`;
    /// every series when left out.
    pub selector: Option<String>,
    /// `text` (default: one series key a line) or `json` (an array of
    /// `{"metric": ..., "dimensions": {...}}`, stable field names).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Parses a selector given on the command line; the engine's error names the column.
pub fn parse_selector(text: &str) -> CliResult<Selector> {
    text.parse::<Selector>()
        .map_err(|e| CliError::new(format!("bad selector: {e}")))
}

/// Lists the series.
pub fn run(global: &Global, args: SeriesArgs) -> CliResult<Status> {
    let selector = match &args.selector {
        Some(text) => parse_selector(text)?,
        None => Selector::any(),
    };
    let db = global.open_for_reading()?;
    let keys = db.list_series(&selector)?;
    if args.format == "json" {
        let list: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                let dims: serde_json::Map<String, serde_json::Value> = k
                    .dimensions()
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                serde_json::json!({ "metric": k.name(), "dimensions": dims })
            })
            .collect();
        let json = serde_json::to_string_pretty(&list)
            .map_err(|e| CliError::new(format!("cannot encode the series: {e}")))?;
        crate::output::emit(&format!("{json}\n"))?;
    } else {
        let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
        crate::output::emit(&text)?;
    }
    Ok(Status::Ok)
}
