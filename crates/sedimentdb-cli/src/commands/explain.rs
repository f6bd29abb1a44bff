//! `sediment explain`: how a query would run (segments pruned, chunks answered from
//! statistics or decoded, bytes read), without printing its answer. Takes the arguments
//! of `query`.

use crate::commands::query::{build_query, QueryArgs};
use crate::exit::{CliError, CliResult, Status};
use crate::output::{Format, Global};

/// Runs the query and prints how it ran: text, or the engine's `Explain` as JSON with
/// `--format json`.
pub fn run(global: &Global, args: QueryArgs) -> CliResult<Status> {
    let selector = args.select.resolve(true)?;
    let db = global.open_for_reading()?;
    let range = args.range.resolve_with_now(&db, &selector)?.range;
    let query = build_query(selector.clone(), range, &args)?;
    let explain = db
        .explain(&query)
        .map_err(|e| CliError::new(format!("explain: {e}")))?;
    db.close()?;
    if explain.series_matched == 0 {
        return Err(CliError::new(format!(
            "no series matches {selector} (list them with `sediment series`)"
        )));
    }
    if args.format == Some(Format::Json) {
        let json = serde_json::to_string_pretty(&explain)
            .map_err(|e| CliError::new(format!("cannot encode the explain report: {e}")))?;
        crate::output::emit(&format!("{json}\n"))?;
    } else {
        crate::output::emit(&format!("{explain}\n"))?;
    }
    Ok(Status::Ok)
}
