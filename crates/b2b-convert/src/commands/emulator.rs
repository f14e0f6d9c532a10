//! `emulator`: serve the offline Graph tenant until Ctrl-C.

use std::process::ExitCode;

use anyhow::Context;
use graph_emulator::simulation::SimulationOverrides;
use graph_emulator::{EmulatorConfig, Tenant};

use crate::cli::EmulatorArgs;
use crate::output;

/// Runs `emulator`.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let tenant = match &args.tenant {
        Some(path) => Tenant::from_path(path)?,
        None => Tenant::demo(),
    };
    for (flag, rate) in [
        ("--fault-rate", args.fault_rate),
        ("--stall-rate", args.stall_rate),
    ] {
        if let Some(rate) = rate {
            anyhow::ensure!(
                (0.0..=1.0).contains(&rate),
                "{flag} must be between 0 and 1, not {rate}"
            );
        }
    }
    let config = EmulatorConfig {
        listen: args.listen,
        tls_dir: args.tls.clone(),
        managed_identity: args.managed_identity,
        overrides: SimulationOverrides {
            latency_ms: args.latency_ms,
            jitter_ms: args.jitter_ms,
            fault_rate: args.fault_rate,
            stall_rate: args.stall_rate,
            stall_ms: args.stall_ms,
            retry_after_s: args.retry_after_s,
            request_log: args.request_log,
            block_invites_after: args.block_invites_after,
            no_throttle: args.no_throttle,
        },
    };
    let running = graph_emulator::start(tenant, config)
        .await
        .with_context(|| format!("cannot start the emulator on {}", args.listen))?;
    output::write_line(format!(
        "listening on {}",
        running.url().as_str().trim_end_matches('/')
    ))?;
    if let Some(ca) = running.ca_pem() {
        eprintln!(
            "CA certificate: {} (trust it, e.g. SSL_CERT_FILE={})",
            ca.display(),
            ca.display()
        );
    }
    if let Some(mi) = running.managed_identity() {
        // Shell lines to paste: the App Service protocol, or IMDS through the variable
        // Azure's SDKs read for its address.
        eprintln!(
            "Managed identity served. For the App Service protocol:\n  export IDENTITY_ENDPOINT={} IDENTITY_HEADER={}\nFor IMDS:\n  export AZURE_POD_IDENTITY_AUTHORITY_HOST={}",
            mi.identity_endpoint,
            mi.identity_header,
            mi.imds_authority_host.as_str().trim_end_matches('/')
        );
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
