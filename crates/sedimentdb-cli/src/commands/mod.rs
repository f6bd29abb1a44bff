//! One module per subcommand; `run` dispatches.

pub mod admin;
pub mod alert;
pub mod completions;
pub mod dashboard;
pub mod explain;
pub mod export;
pub mod import;
pub mod query;
pub mod report;
pub mod series;
pub mod stats;
pub mod trend;

use crate::cli::{Cli, Command};
use crate::exit::{CliResult, Status};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> CliResult<Status> {
    let global = crate::output::Global::new(&cli);
    match cli.command {
        Command::Stats(args) => stats::run(&global, args),
        Command::Completions(args) => completions::run(args),
        Command::Report(args) => report::run(&global, args),
        Command::Dashboard(args) => dashboard::run(&global, args),
        Command::Serve(args) => crate::serve::run(&global, args),
        Command::Series(args) => series::run(&global, args),
        Command::Import(args) => import::run(&global, args),
        Command::Export(args) => export::run(&global, args),
        Command::Query(args) => query::run(&global, args),
        Command::Alert(args) => alert::run(&global, args),
        Command::Trend(args) => trend::run(&global, args),
        Command::Explain(args) => explain::run(&global, args),
        Command::Verify(args) => admin::run_verify(&global, args),
        Command::Compact(args) => admin::run_compact(&global, args),
        Command::Retention(args) => admin::run_retention(&global, args),
        Command::Delete(args) => admin::run_delete(&global, args),
    }
}
