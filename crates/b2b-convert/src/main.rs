//! `b2b-convert`: the command-line tool. A thin layer over `b2b-convert-core` (the
//! domain), `b2b-graph` (the Graph client) and `graph-emulator` (the offline tenant):
//! argument parsing, output formats, progress and exit codes.
//!
//! Exit codes: 0 done; 1 the command ran but some rows failed, stayed unverified or
//! were not reached; 2 the command could not run (bad input, bad arguments, Graph or
//! journal unreachable). A closed stdout (`| head`) is not an error.

mod cli;
mod commands;
mod connection;
mod duration;
mod interrupt;
mod output;
mod progress;
mod prompt;
mod render;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("b2b-convert: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("b2b-convert: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => commands::plan::run(args).await,
        Command::Apply(args) => commands::apply::run(args).await,
        Command::Status(args) => commands::status::run(args).await,
        Command::Reinvite(args) => commands::reinvite::run(args).await,
        Command::Report(args) => commands::report::run(&args),
        Command::Emulator(args) => commands::emulator::run(args).await,
        Command::Demo(args) => commands::demo::run(args).await,
    }
}

/// Logs go to stderr so stdout stays machine-readable. Graph client logs never carry
/// tokens or secrets (the client redacts them).
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,b2b_graph=info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal; a log file gets plain text.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_target(false)
        .try_init();
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
