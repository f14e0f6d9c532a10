//! Ctrl-C and SIGTERM during `apply`: the first stops the run gracefully (no new step
//! starts; steps in flight finish and are journaled), the second quits at once. Either
//! way the journal stays consistent — every step is written as an intent before its
//! request — and the tool says exactly how to resume.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::prompt::command_line;

/// The conventional exit code after SIGINT (128 + 2).
const STATUS: u8 = 130;

/// [`STATUS`] as the process's exit code.
pub fn exit_code() -> ExitCode {
    ExitCode::from(STATUS)
}

/// How long steps in flight may take to finish after an interrupt before the tool quits
/// anyway (an open step is settled by reading back on resume).
const GRACE: Duration = Duration::from_secs(10);

/// Runs `work` (an execution that starts no new step once `cancel` is cancelled) while
/// watching for interrupts. `None` when, after an interrupt, the steps in flight outlasted
/// the grace: the tool has said so (their steps stay open in the journal and
/// `settled_by` settles them) and how to resume, and the caller exits with
/// [`exit_code`].
pub async fn guarded<F: Future>(
    cancel: &CancellationToken,
    work: F,
    settled_by: &str,
) -> Option<F::Output> {
    let interrupts = tokio::spawn(watch(cancel.clone()));
    tokio::pin!(work);
    let done = tokio::select! {
        done = &mut work => Some(done),
        () = async { cancel.cancelled().await; tokio::time::sleep(GRACE).await } => {
            eprintln!(
                "Requests still in flight after {} s; quitting. Their steps stay open in the \
                 journal and {settled_by}.",
                GRACE.as_secs()
            );
            print_resume();
            None
        }
    };
    interrupts.abort();
    done
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
