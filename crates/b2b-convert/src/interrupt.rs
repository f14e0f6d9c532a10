//! Ctrl-C and SIGTERM during `apply`: the first stops the run gracefully (no new step
//! starts; steps in flight finish and are journaled), the second quits at once. Either
//! way the journal stays consistent — every step is written as an intent before its
//! request — and the tool says exactly how to resume.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::prompt::command_line;

/// The conventional exit code after SIGINT (128 + 2).
const STATUS: u8 = 130;

/// [`STATUS`] as the process's exit code.
pub fn exit_code() -> ExitCode {
    ExitCode::from(STATUS)
}

/// Waits for interrupts: the first cancels `cancel`, the second exits the process.
pub async fn watch(cancel: CancellationToken) {
    if next_signal().await.is_err() {
        // No signal handling on this platform: the default (die) applies, and the
        // journal still lets the run resume.
        return;
    }
    eprintln!(
        "\nInterrupted: no new step starts; waiting for the requests in flight to finish. \
         Press Ctrl-C again to quit at once."
    );
    cancel.cancel();
    if next_signal().await.is_ok() {
        eprintln!(
            "Quitting now. Open steps are settled by reading the users back when you resume."
        );
        print_resume();
        std::process::exit(i32::from(STATUS));
    }
}

/// Prints the command that resumes the run.
pub fn print_resume() {
    eprintln!(
        "To resume, run the same command again:\n  {}",
        command_line()
    );
}

#[cfg(unix)]
async fn next_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn next_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
