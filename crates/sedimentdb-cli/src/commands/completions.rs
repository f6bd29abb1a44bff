//! `sediment completions SHELL`: the completion script for a shell, from clap_complete.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit::{CliResult, Status};

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: Shell,
}

/// Writes the script to stdout.
pub fn run(args: CompletionsArgs) -> CliResult<Status> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "sediment", &mut std::io::stdout());
    Ok(Status::Ok)
}
