//! The command line: every command, option and environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use b2b_convert_core::facts::Strategy;
use b2b_convert_core::input;
use b2b_convert_core::plan::PlanOptions;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Convert internal Entra ID users to B2B collaboration users: check every account
/// first, convert the eligible ones at the speed Graph allows, survive crashes, and track
/// who has accepted.
#[derive(Debug, Parser)]
#[command(name = "b2b-convert", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every row of the input against the tenant and print one decision per row
    /// (read-only).
    Plan(PlanArgs),
    /// Plan, confirm, then convert the eligible users; journaled, resumable.
    Apply(ApplyArgs),
    /// Show each user of the journal's latest run: decision, what was done, invitation state.
    Status(StatusArgs),
    /// Send a fresh invitation to users whose invitation is still pending.
    Reinvite(ReinviteArgs),
    /// Write a self-contained HTML report of the journal's latest run.
    Report(ReportArgs),
    /// Serve the offline Graph emulator on a tenant file.
    Emulator(EmulatorArgs),
    /// Show the whole job on the embedded demo tenant, with no Azure tenant needed.
    Demo(DemoArgs),
}

/// How to reach Graph and authenticate.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The tenant (directory) id or a verified domain.
    #[arg(long, env = "AZURE_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// The application (client) id. Its secret is read from AZURE_CLIENT_SECRET only,
    /// never from the command line (which other users can see in the process list).
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The national cloud: picks the Graph and login hosts.
    #[arg(long, value_enum, default_value_t = CloudArg::Global)]
    pub cloud: CloudArg,
    /// Graph root URL override, e.g. http://127.0.0.1:8080 (plain http only for loopback).
    #[arg(long, env = "B2B_GRAPH_URL")]
    pub graph_url: Option<url::Url>,
    /// Login (authority) root URL override.
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    pub authority_url: Option<url::Url>,
    /// How long one Graph request may take before it counts as failed (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse_age)]
    pub request_timeout: jiff::SignedDuration,
    /// The longest Retry-After to wait out; a longer one stops the run, resumably.
    #[arg(long, default_value = "120s", value_parser = crate::duration::parse_age)]
    pub max_retry_after: jiff::SignedDuration,
}

/// The national clouds (graph-facts.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloudArg {
    /// graph.microsoft.com / login.microsoftonline.com (also GCC).
    Global,
    /// GCC High: graph.microsoft.us / login.microsoftonline.us.
    Usgov,
    /// DoD: dod-graph.microsoft.us / login.microsoftonline.us.
    #[value(name = "usgov-dod")]
    UsgovDod,
    /// 21Vianet: microsoftgraph.chinacloudapi.cn.
    China,
}

/// `--planning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanningArg {
    /// Snapshot for large inputs, lookup for small ones.
    Auto,
    /// Read the whole tenant once.
    Snapshot,
    /// Read per row.
    Lookup,
}

impl From<PlanningArg> for Strategy {
    fn from(arg: PlanningArg) -> Strategy {
        match arg {
            PlanningArg::Auto => Strategy::Auto,
            PlanningArg::Snapshot => Strategy::Snapshot,
            PlanningArg::Lookup => Strategy::Lookup,
        }
    }
}

/// Options shared by plan and apply.
#[derive(Debug, Clone, Args)]
pub struct PlanningArgs {
    /// The CSV file: columns user, externalEmail; optional redirectUrl, sendEmail,
    /// message, cc, language.
    #[arg(long, short)]
    pub input: PathBuf,
    /// Convert users who hold directory roles instead of blocking them.
    #[arg(long)]
    pub allow_privileged: bool,
    /// Revoke each user's sign-in sessions before converting.
    #[arg(long)]
    pub revoke_sessions: bool,
    /// Redirect URL for rows without one (default: My Apps in this tenant).
    #[arg(long)]
    pub redirect_url: Option<String>,
    /// Don't have Microsoft email the invitations (rows may still say sendEmail=true);
    /// the redeem URLs are printed for you to deliver.
    #[arg(long)]
    pub no_email: bool,
    /// How to read the tenant: `snapshot` reads it once, page by page (best for large
    /// inputs); `lookup` reads what each row names; `auto` picks by input and tenant size.
    #[arg(long, value_enum, default_value_t = PlanningArg::Auto)]
    pub planning: PlanningArg,
    /// Graph requests in flight at once, reading the tenant and converting users (Graph's
    /// limits are kept by pacing in any case).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=128))]
    pub concurrency: u16,
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

impl PlanningArgs {
    /// The planner's options these arguments ask for.
    pub fn plan_options(&self, tenant_id: &str) -> anyhow::Result<PlanOptions> {
        let mut options = PlanOptions::new(tenant_id);
        options.allow_privileged = self.allow_privileged;
        options.revoke_sessions = self.revoke_sessions;
        options.default_send_email = !self.no_email;
        options.never_send_email = self.no_email;
        if let Some(url) = &self.redirect_url {
            input::check_redirect_url(url)
                .map_err(anyhow::Error::msg)
                .context("--redirect-url")?;
            options.default_redirect_url = url.clone();
        }
        Ok(options)
    }
}

/// `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// What to plan.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// What to plan and apply.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// Don't ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// The run journal (SQLite, created with mode 0600).
    #[arg(long, default_value = "b2b-convert.db")]
    pub journal: PathBuf,
    /// Start a new run even though the journal has unfinished work for another input.
    #[arg(long)]
    pub new_run: bool,
    /// Output format of the results.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run journal.
    #[arg(long, default_value = "b2b-convert.db")]
    pub journal: PathBuf,
    /// Read externalUserState back from Graph first (batched) and record changes.
    #[arg(long)]
    pub refresh: bool,
    /// Only users whose invitation has been pending longer than this (e.g. 7d, 36h).
    #[arg(long, value_parser = crate::duration::parse_age)]
    pub pending_older_than: Option<jiff::SignedDuration>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Connection (for --refresh).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `reinvite`.
#[derive(Debug, Args)]
pub struct ReinviteArgs {
    /// The run journal.
    #[arg(long, default_value = "b2b-convert.db")]
    pub journal: PathBuf,
    /// Re-invite users whose invitation has been pending longer than this (e.g. 7d).
    #[arg(long, value_parser = crate::duration::parse_age)]
    pub pending_older_than: jiff::SignedDuration,
    /// Don't ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run journal.
    #[arg(long, default_value = "b2b-convert.db")]
    pub journal: PathBuf,
    /// Where to write the HTML page.
    #[arg(long)]
    pub html: PathBuf,
}

/// `emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The tenant file (JSON); the embedded demo tenant when absent.
    #[arg(long)]
    pub tenant: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate written to DIR/ca.pem.
    #[arg(long, value_name = "DIR")]
    pub tls: Option<PathBuf>,
    /// Latency added to every response, in milliseconds.
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Random extra latency up to this many milliseconds.
    #[arg(long)]
    pub jitter_ms: Option<u64>,
    /// Share of requests (0.0–1.0) answered with 500/502/503/504 or a cut connection.
    #[arg(long)]
    pub fault_rate: Option<f64>,
    /// Share of requests (0.0–1.0) whose answer is held for --stall-ms after the tenant
    /// processed them (a client that times out can't know the outcome).
    #[arg(long)]
    pub stall_rate: Option<f64>,
    /// How long a stalled answer is held, in milliseconds (default 120000).
    #[arg(long)]
    pub stall_ms: Option<u64>,
    /// Every throttling 429 and every simulated 503 says `Retry-After: N` seconds.
    #[arg(long, value_name = "N")]
    pub retry_after_s: Option<u64>,
    /// How many requests the request log keeps (older ones are dropped; counters stay).
    #[arg(long, value_name = "N")]
    pub request_log: Option<usize>,
    /// After this many invitations, refuse all others as Microsoft's anti-abuse block does.
    #[arg(long)]
    pub block_invites_after: Option<u64>,
    /// Turn off Graph's documented throttling limits.
    #[arg(long)]
    pub no_throttle: bool,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo emulator running afterwards (Ctrl-C stops it) to explore it.
    #[arg(long)]
    pub keep_running: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    Table,
    /// JSON for scripts.
    Json,
    /// CSV for spreadsheets (cells a spreadsheet would run as formulas are neutralised).
    Csv,
}
