//! Running the real `b2b-convert` binary against the emulator, timing it and sampling
//! its peak resident memory (`VmHWM` in `/proc/PID/status`, Linux) while it runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::tenant::{CLIENT_ID, CLIENT_SECRET, TENANT_ID};

/// The `b2b-convert` binary built beside this one (`cargo build --release` builds both).
pub fn binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating the benchmark binary")?;
    let path = me
        .parent()
        .context("the benchmark binary has no folder")?
        .join("b2b-convert");
    if !path.is_file() {
        bail!(
            "{} is missing: build it first with `cargo build --release -p b2b-convert`",
            path.display()
        );
    }
    Ok(path)
}

/// What a run of the binary took.
pub struct Measured {
    /// Wall-clock time.
    pub seconds: f64,
    /// Peak resident memory in MB, when it could be read.
    pub peak_rss_mb: Option<f64>,
    /// Its standard error (the summary lines).
    pub stderr: String,
}

/// Runs `b2b-convert ARGS` in `dir` against the emulator at `url`; fails unless it exits 0.
pub fn run(dir: &Path, url: &str, args: &[&str]) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let mut child = Command::new(binary()?)
        .args(args)
        .current_dir(dir)
        .env("AZURE_TENANT_ID", TENANT_ID)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("B2B_GRAPH_URL", url)
        .env("AZURE_AUTHORITY_HOST", url)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting b2b-convert")?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kb: Option<u64> = None;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        }
        text
    });
    let status = loop {
        if let Some(kb) = high_water_kb(&status_file) {
            peak_kb = Some(peak_kb.map_or(kb, |p| p.max(kb)));
        }
        if let Some(status) = child.try_wait().context("waiting for b2b-convert")? {
            break status;
        }
        // Sampling a child process's memory: real time is what is being measured.
        #[allow(
            clippy::disallowed_methods,
            reason = "polls another process in real time"
        )]
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    let stderr = reader.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "b2b-convert {} exited with {status}:\n{stderr}",
            args.join(" ")
        );
    }
    Ok(Measured {
        seconds,
        peak_rss_mb: peak_kb.map(|kb| kb as f64 / 1024.0),
        stderr,
    })
}

/// `VmHWM` (peak resident set) of a live process, in kB.
fn high_water_kb(status: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
