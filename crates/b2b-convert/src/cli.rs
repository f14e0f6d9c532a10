//! The command line: every command, option and environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use b2b_convert_core::facts::Strategy;
use b2b_convert_core::input;
use b2b_convert_core::plan::PlanOptions;
use b2b_graph::{AssertionAlgorithm, CredentialKind};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Convert internal Entra ID users to B2B collaboration users: check every account
/// first, convert the eligible ones at the speed Graph allows, survive crashes, and track
/// who has accepted.
#[derive(Debug, Parser)]
#[command(name = "b2b-convert", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only results and errors: no progress bars, no notes, no warnings.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Team defaults (cloud, tenant, redirect URL, message, language, concurrency…) from
    /// this TOML file; default: ./b2b-convert.toml when there is one.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every row of the input against the tenant and print one decision per row
    /// (read-only).
    #[command(after_help = "Examples:
  b2b-convert plan --input users.csv
  b2b-convert plan --input users.csv --output json > plan.json
  b2b-convert plan --input users.csv --auth azure-cli -v
  b2b-convert plan --select \"startsWith(userPrincipalName,'ext.')\" \\
      --map-email '{upnLocal}@partner.example' --write-input selected.csv
  b2b-convert plan --select-group 'Fabrikam staff' --map-email-from-other-mails fabrikam.com \\
      --write-input fabrikam.csv")]
    Plan(PlanArgs),
    /// Plan, confirm, then convert the eligible users; journaled, resumable.
    #[command(after_help = "Examples:
  b2b-convert apply --input users.csv                       # shows the plan, asks first
  b2b-convert apply --input users.csv --yes --journal run.db
  b2b-convert apply --input users.csv --no-email --revoke-sessions
Run the same command again after a crash, Ctrl-C or a stop: it resumes the run.")]
    Apply(ApplyArgs),
    /// Show each user of the journal's latest run: decision, what was done, invitation state.
    #[command(after_help = "Examples:
  b2b-convert status
  b2b-convert status --refresh                      # read who has accepted from Graph
  b2b-convert status --pending-older-than 7d --output csv > chase.csv")]
    Status(StatusArgs),
    /// Send a fresh invitation to users whose invitation is still pending.
    #[command(after_help = "Examples:
  b2b-convert reinvite --pending-older-than 7d
  b2b-convert reinvite --pending-older-than 14d --yes --output json")]
    Reinvite(ReinviteArgs),
    /// Convert users turned B2B by mistake back into internal members (Graph beta API);
    /// plan, confirm, journaled.
    #[command(after_help = "Examples:
  b2b-convert revert --i-understand-beta --journal run.db --last      # the users the last apply converted
  b2b-convert revert --i-understand-beta --input mistakes.csv --upn-domain contoso.com
  b2b-convert revert --i-understand-beta --journal run.db --run <run id> --include-accepted --yes
Users who redeemed are refused unless --include-accepted: they lose sign-in with their own account.")]
    Revert(RevertArgs),
    /// Write a self-contained HTML report of the journal's latest run.
    #[command(after_help = "Examples:
  b2b-convert report --html report.html
  b2b-convert report --journal run.db --html /tmp/conversion.html")]
    Report(ReportArgs),
    /// Serve the offline Graph emulator on a tenant file.
    #[command(after_help = "Examples:
  b2b-convert emulator --listen 127.0.0.1:8080
  b2b-convert emulator --tenant my-tenant.json --latency-ms 80 --jitter-ms 20
  b2b-convert emulator --managed-identity            # prints IDENTITY_ENDPOINT to export")]
    Emulator(EmulatorArgs),
    /// Show the whole job on the embedded demo tenant, with no Azure tenant needed.
    #[command(after_help = "Example:
  b2b-convert demo --keep-running")]
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(after_help = "Examples:
  b2b-convert completions bash > /etc/bash_completion.d/b2b-convert
  b2b-convert completions zsh > \"${fpath[1]}/_b2b-convert\"
  b2b-convert completions fish > ~/.config/fish/completions/b2b-convert.fish")]
    Completions(CompletionsArgs),
    /// Print the man page (roff) of the tool and its commands.
    #[command(after_help = "Examples:
  b2b-convert man > b2b-convert.1 && man ./b2b-convert.1
  b2b-convert man --out-dir /usr/local/share/man/man1     # one page per command")]
    Man(ManArgs),
}

/// How to reach Graph and authenticate.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The tenant (directory) id or a verified domain.
    #[arg(long, env = "AZURE_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// The application (client) id; with --auth managed-identity, a user-assigned identity.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub client_id: Option<String>,
    /// How to sign in. Default: the first configured of secret, certificate,
    /// workload-identity, managed-identity (App Service), azure-cli (README, "Signing in").
    #[arg(long, value_parser = parse_auth)]
    pub auth: Option<CredentialKind>,
    /// Read the client secret from this file (never from the command line, which other
    /// users can see in the process list). Default: AZURE_CLIENT_SECRET.
    #[arg(long, value_name = "FILE", conflicts_with = "client_secret_stdin")]
    pub client_secret_file: Option<PathBuf>,
    /// Read the client secret from standard input.
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// The client assertion's signature with a certificate: PS256 (x5t#S256, Entra's
    /// current docs) or RS256 (SHA-1 x5t, older tenants).
    #[arg(long, value_name = "ALG", default_value = "PS256", value_parser = parse_algorithm)]
    pub certificate_algorithm: AssertionAlgorithm,
    /// Use the access token in this file (from a broker or another tool); the run stops
    /// before it lapses.
    #[arg(long, value_name = "FILE")]
    pub access_token_file: Option<PathBuf>,
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

fn parse_auth(value: &str) -> Result<CredentialKind, String> {
    value.parse()
}

fn parse_algorithm(value: &str) -> Result<AssertionAlgorithm, String> {
    value.parse()
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

/// `--user-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserTypeArg {
    /// `Guest`: billed as an external user.
    Guest,
}

/// Options shared by plan and apply.
#[derive(Debug, Clone, Args)]
pub struct PlanningArgs {
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
    /// The invitation message for rows without a `message` (Microsoft adds it to the
    /// email it sends).
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// One extra recipient of the invitation email, for rows without a `cc`.
    #[arg(long, value_name = "ADDRESS")]
    pub cc: Option<String>,
    /// The invitation email's language (e.g. de-DE), for rows without a `language`.
    #[arg(long, value_name = "TAG")]
    pub language: Option<String>,
    /// Also add the partner's address to otherMails (older Microsoft guidance).
    #[arg(long)]
    pub also_other_mails: bool,
    /// After inviting, set userType: `guest` bills the user as an external user (monthly
    /// active users) when the tenant is linked to an Azure subscription.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub user_type: Option<UserTypeArg>,
    /// Replace cloud-only users' passwords with a random one nobody is told (the app also
    /// needs the User Administrator role); synced users get a note to do it on-premises.
    #[arg(long)]
    pub scramble_password: bool,
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
        if let Some(message) = &self.message {
            let chars = message.chars().count();
            anyhow::ensure!(
                chars <= input::MAX_MESSAGE_CHARS,
                "--message is {chars} characters, more than the {} an invitation message may hold",
                input::MAX_MESSAGE_CHARS
            );
            options.default_message = Some(message.clone());
        }
        if let Some(cc) = &self.cc {
            b2b_convert_core::email::check_address(cc)
                .map_err(anyhow::Error::msg)
                .context("--cc")?;
            options.default_cc = Some(cc.clone());
        }
        if let Some(language) = self
            .language
            .as_deref()
            .filter(|l| !input::is_language_tag(l))
        {
            anyhow::bail!("--language {language:?} is not a language tag such as en-US or de");
        }
        options.default_language = self.language.clone();
        options.also_other_mails = self.also_other_mails;
        options.set_user_type = self.user_type.map(|t| match t {
            UserTypeArg::Guest => "Guest".to_owned(),
        });
        options.scramble_password = self.scramble_password;
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
#[command(group(clap::ArgGroup::new("selection").args(["select", "select_group"])))]
#[command(group(clap::ArgGroup::new("email_rule").args(["map_email", "map_email_from_other_mails"]).requires("selection")))]
pub struct PlanArgs {
    /// The CSV file: columns user, externalEmail; optional redirectUrl, sendEmail,
    /// message, cc, language, revokeSessions (or the admin center's bulk-invite template).
    #[arg(long, short, required_unless_present_any = ["select", "select_group"])]
    pub input: Option<PathBuf>,
    /// Users straight from the tenant instead: those matching this Graph $filter (sent
    /// as an advanced query, so endsWith, ne and not work). Needs --map-email or
    /// --map-email-from-other-mails.
    #[arg(long, value_name = "FILTER", conflicts_with_all = ["input", "select_group"], requires = "email_rule")]
    pub select: Option<String>,
    /// Users straight from the tenant instead: the direct members of this group (object
    /// id or exact display name); nested groups are named, not followed.
    #[arg(
        long,
        value_name = "NAME|ID",
        conflicts_with = "input",
        requires = "email_rule"
    )]
    pub select_group: Option<String>,
    /// The partner address of each selected user, from a template with {upnLocal} (the
    /// UPN before @), {mailNickname}, {givenName} and {surname}: '{upnLocal}@partner.example'.
    #[arg(long, value_name = "TEMPLATE")]
    pub map_email: Option<String>,
    /// The partner address of each selected user: their one otherMails address at this
    /// domain.
    #[arg(long, value_name = "DOMAIN")]
    pub map_email_from_other_mails: Option<String>,
    /// Write the selected users and their addresses to this new CSV (user,externalEmail)
    /// for review; then `apply --input` it. Never overwrites a file.
    #[arg(long, value_name = "FILE", requires = "selection")]
    pub write_input: Option<PathBuf>,
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
    /// The CSV file: columns user, externalEmail; optional redirectUrl, sendEmail,
    /// message, cc, language, revokeSessions (or the admin center's bulk-invite template,
    /// or the file `plan --write-input` wrote).
    #[arg(long, short)]
    pub input: PathBuf,
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
    /// Show every row of the plan before asking (by default, above 50 rows, the counts
    /// per decision and reason and the first blocked rows).
    #[arg(long)]
    pub show_plan: bool,
    /// Write the redeem links of invitations sent without email to this CSV (user,
    /// displayName, externalEmail, redeemUrl), ready for a mail merge.
    #[arg(long, value_name = "FILE")]
    pub links_out: Option<PathBuf>,
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
    /// Re-invite the journal's users whose invitation has been pending longer than this
    /// (e.g. 7d).
    #[arg(long, value_parser = crate::duration::parse_age, required_unless_present_any = ["user", "input"])]
    pub pending_older_than: Option<jiff::SignedDuration>,
    /// Re-invite this user (object id or UPN), whoever invited them — e.g. a plan's
    /// `already_invited` row. Repeatable.
    #[arg(long, value_name = "USER", conflicts_with = "pending_older_than")]
    pub user: Vec<String>,
    /// Re-invite the users of this input file (its redirectUrl, sendEmail, message, cc
    /// and language columns apply), whoever invited them.
    #[arg(
        long,
        short,
        value_name = "FILE",
        conflicts_with = "pending_older_than"
    )]
    pub input: Option<PathBuf>,
    /// With --user or --input: no invitation email; the new links are printed.
    #[arg(long)]
    pub no_email: bool,
    /// Don't ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Output format of the results.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `revert`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["input", "run", "last"])))]
pub struct RevertArgs {
    /// Confirms you know revert calls a Microsoft Graph beta API, which Microsoft may change
    /// without notice; without it, revert refuses.
    #[arg(long)]
    pub i_understand_beta: bool,
    /// The users to revert: a CSV with a `user` column (object id, UPN or mail); other
    /// columns are ignored, so apply's input file will do.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Revert the users this apply run of the journal converted.
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// Revert the users the journal's latest apply run converted.
    #[arg(long)]
    pub last: bool,
    /// The run journal: where --run/--last read the converting run, and where this revert
    /// is recorded.
    #[arg(long, default_value = "b2b-convert.db")]
    pub journal: PathBuf,
    /// Give each user the UPN `{name part of their UPN}@DOMAIN` (a verified, managed domain)
    /// instead of keeping the one they have.
    #[arg(long, value_name = "DOMAIN")]
    pub upn_domain: Option<String>,
    /// Also revert users who redeemed their invitation: they stop signing in with their own
    /// organisation's account here.
    #[arg(long)]
    pub include_accepted: bool,
    /// Don't ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Output format of the results.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
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
    /// Also serve the managed-identity endpoints (App Service protocol and IMDS) on a
    /// second port, and print the IDENTITY_ENDPOINT/IDENTITY_HEADER to export.
    #[arg(long)]
    pub managed_identity: bool,
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

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `b2b-convert.1` and one `b2b-convert-COMMAND.1` per command into this folder
    /// instead of printing them all.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
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

#[cfg(test)]
mod tests {
    //! README's usage cannot drift from `--help`: every command has a row in its
    //! Commands table, every option of every command is documented, and no row names an
    //! option its command does not have.

    use clap::CommandFactory;

    use super::Cli;

    const README: &str = include_str!("../../../README.md");

    /// The row for `name` in the table of README's "Commands" section.
    fn row(name: &str) -> Option<&'static str> {
        let section = README.split("\n## Commands\n").nth(1)?;
        let section = section.split("\n## ").next()?;
        section.lines().find(|l| {
            l.starts_with(&format!("| `{name} ")) || l.starts_with(&format!("| `{name}`"))
        })
    }

    fn long_options(command: &clap::Command) -> Vec<String> {
        command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .filter(|l| !matches!(*l, "help" | "version"))
            .map(|l| format!("--{l}"))
            .collect()
    }

    #[test]
    fn readme_documents_every_command_and_option() {
        let cli = Cli::command();
        for global in long_options(&cli) {
            assert!(README.contains(&global), "README never mentions {global}");
        }
        for sub in cli.get_subcommands() {
            let name = sub.get_name();
            let row = row(name)
                .unwrap_or_else(|| panic!("README's Commands table has no row for `{name}`"));
            let options = long_options(sub);
            for option in &options {
                assert!(
                    README.contains(&format!("`{option}"))
                        || README.contains(&format!(" {option}"))
                        || README.contains(&format!("[{option}")),
                    "README never mentions {option} of `{name}`"
                );
            }
            // The reverse: an option named in the row must exist.
            for word in row.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                if let Some(flag) = word
                    .strip_prefix("--")
                    .filter(|f| !f.is_empty() && !matches!(*f, "help" | "version"))
                {
                    assert!(
                        options.iter().any(|o| o == &format!("--{flag}")),
                        "README's row for `{name}` names --{flag}, which `{name} --help` does not have"
                    );
                }
            }
        }
    }
}
