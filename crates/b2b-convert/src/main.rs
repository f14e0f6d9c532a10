//! `b2b-convert`: the command-line tool. A thin layer over `b2b-convert-core` (the
//! domain), `b2b-graph` (the Graph client) and `graph-emulator` (the offline tenant):
//! argument parsing, output formats, progress and exit codes.
//!
//! Exit codes: 0 done; 1 the command ran but some rows failed, stayed unverified or
//! were not reached; 2 the command could not run (bad input, bad arguments, Graph or
//! journal unreachable); 3 signing in failed or the credential lacks a permission the
//! run needs (nothing was changed by the failing step); 130 interrupted (Ctrl-C). A
//! closed stdout (`| head`) is not an error.

mod cli;
mod commands;
mod config;
mod connection;
mod duration;
mod interrupt;
mod output;
mod progress;
mod prompt;
mod render;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(error) => {
            eprintln!("b2b-convert: error: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(cli.verbose, cli.quiet);
    progress::set_quiet(cli.quiet);
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
        Err(error) => match sign_in_failure(&error) {
            // One sentence naming the credential and the fix; the contexts around it
            // would only repeat it.
            Some(refusal) => {
                eprintln!("b2b-convert: {refusal}");
                ExitCode::from(3)
            }
            None => {
                eprintln!("b2b-convert: error: {error:#}");
                ExitCode::from(2)
            }
        },
    }
}

/// The command line, with the config file's settings where the command line and the
/// environment leave an option unset. Usage errors exit through clap (code 2).
fn parse() -> anyhow::Result<Cli> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = Cli::command().get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let Some(command) = matches.subcommand_name() else {
        return Ok(cli);
    };
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let Some(args) = config::with_settings(&args, cli.config.as_deref(), command, set)? else {
        return Ok(cli);
    };
    // The file's settings come first; a typed option of the same name overrides them.
    let matches = Cli::command()
        .mut_subcommand(command, |sub| sub.args_override_self(true))
        .get_matches_from(args);
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => commands::plan::run(args).await,
        Command::Apply(args) => commands::apply::run(args).await,
        Command::Status(args) => commands::status::run(args).await,
        Command::Reinvite(args) => commands::reinvite::run(args).await,
        Command::Revert(args) => commands::revert::run(args).await,
        Command::Report(args) => commands::report::run(&args),
        Command::Emulator(args) => commands::emulator::run(args).await,
        Command::Demo(args) => commands::demo::run(args).await,
        Command::Completions(args) => commands::completions::completions(&args),
        Command::Man(args) => commands::completions::man(&args),
    }
}

/// Logs go to stderr so stdout stays machine-readable. Graph client logs never carry
/// tokens or secrets (the client redacts them).
fn init_logging(verbose: u8, quiet: bool) {
    let default = match verbose {
        0 if quiet => "error",
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

/// The sign-in refusal or missing permission anywhere in an error's chain.
fn sign_in_failure(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(graph) = cause.downcast_ref::<b2b_graph::GraphError>()
            && graph.is_sign_in()
        {
            return Some(graph.to_string());
        }
        cause
            .downcast_ref::<b2b_convert_core::permissions::MissingPermissions>()
            .map(ToString::to_string)
    })
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
