//! What every command shares: where the database is, whether to colour, output formats.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::cli::{Cli, ColorChoice};
use crate::exit::{CliError, CliResult};

/// Global options, resolved once.
// `color` and `stdout_is_terminal` are read by the data commands (query, export, import).
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Global {
    /// The database directory.
    pub db: PathBuf,
    /// Colour the output.
    pub color: bool,
    /// Stdout is a terminal (tables by default, progress bars).
    pub stdout_is_terminal: bool,
}

impl Global {
    /// From the parsed command line and the environment (`NO_COLOR`).
    pub fn new(cli: &Cli) -> Self {
        let stdout_is_terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_is_terminal && !no_color,
        };
        Global {
            db: cli.db.clone(),
            color,
            stdout_is_terminal,
        }
    }

    /// Opens the database for a command that only reads: read-only, beside a process
    /// that may hold it open for writing; nothing in it is changed.
    pub fn open_for_reading(&self) -> CliResult<sedimentdb::Db> {
        self.require_database()?;
        Ok(sedimentdb::Db::open_read_only(
            &self.db,
            sedimentdb::Options::default(),
        )?)
    }

    /// Fails with a clear message when `--db` is not a database directory, so that a
    /// reading command never creates an empty database by mistake.
    pub fn require_database(&self) -> CliResult<()> {
        if !self.db.join("MANIFEST").is_file() {
            return Err(CliError::new(format!(
                "no database at {} (give --db DIR or set SEDIMENT_DB)",
                self.db.display()
            )));
        }
        Ok(())
    }
}

/// Output formats shared by the commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (the default on a terminal).
    Table,
    /// One JSON document (stable, machine-readable).
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

// Used by the data commands (query, export).
#[allow(dead_code)]
impl Format {
    /// The format to use: the one asked for, else a table on a terminal and JSON lines
    /// when piped.
    pub fn resolve(asked: Option<Format>, global: &Global) -> Format {
        asked.unwrap_or(if global.stdout_is_terminal {
            Format::Table
        } else {
            Format::Jsonl
        })
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) ends the output quietly
/// instead of failing the command (or panicking, as `println!` would).
pub fn emit(text: &str) -> CliResult<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::new(format!("cannot write the output: {e}"))),
    }
}
