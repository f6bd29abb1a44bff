//! `sediment`: the command line for sedimentdb databases.
//!
//! A thin layer over the public APIs of the engine (`sedimentdb`) and the collector
//! (`sedimentdb-collector`): every command parses its arguments, opens the database
//! (read-only unless it must write), calls the library and prints the answer.
//!
//! Exit status: 0 success (for `alert`: nothing firing), 1 a finding (`alert`: something
//! firing; `verify`: damage found), 2 an error (bad arguments, a missing or locked
//! database, bad input). Errors are one line on stderr naming the problem and the fix.

mod cli;
mod commands;
mod exit;
mod output;
mod render;
mod result_out;
mod selectarg;
mod serve;
mod timearg;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(err) => return usage_error(err),
    };
    match commands::run(args) {
        Ok(status) => status.into(),
        Err(err) => {
            eprintln!("sediment: {err}");
            exit::Status::Error.into()
        }
    }
}

/// Help and version go to stdout with status 0; a usage mistake is one line on stderr
/// (clap's first line, naming the argument and the problem) and status 2.
fn usage_error(err: clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                exit::Status::Error.into()
            } else {
                exit::Status::Ok.into()
            }
        }
        _ => {
            let text = err.to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("sediment: {first} (see sediment --help)");
            exit::Status::Error.into()
        }
    }
}
