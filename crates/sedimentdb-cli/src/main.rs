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
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match commands::run(args) {
        Ok(status) => status.into(),
        Err(err) => {
            eprintln!("sediment: {err}");
            exit::Status::Error.into()
        }
    }
}
