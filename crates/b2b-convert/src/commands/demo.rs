//! `demo`: the whole job on the embedded demo tenant, with no Azure tenant — start the
//! emulator in-process, plan, apply, let a few partners redeem their invitations as they
//! would (open the emailed link, press Accept), then show who has accepted.

use std::process::ExitCode;

use anyhow::Context;
use b2b_convert_core::clock;
use b2b_convert_core::executor::ExecutorOptions;
use b2b_convert_core::facts::Strategy;
use b2b_convert_core::input::parse_input;
use b2b_convert_core::journal::{Journal, NewRun};
use b2b_convert_core::plan::{Decision, PlanOptions};
use b2b_convert_core::status;
use b2b_graph::{ClientOptions, Endpoints, GraphClient};
use graph_emulator::{EmulatorConfig, Tenant};
use secrecy::SecretString;

use crate::cli::{DemoArgs, OutputFormat};
use crate::connection::Connection;
use crate::output;
use crate::progress;
use crate::render::plan::{render_plan, summary};
use crate::render::results::results_table;

/// The demo's input file, shipped beside the demo tenant.
pub const DEMO_INPUT: &str = include_str!("../../../../tenants/demo-input.csv");

/// Requests in flight while the demo reads its tenant (the `plan` default).
const DEMO_CONCURRENCY: u16 = 8;

/// How many partners accept their invitation during the demo.
const PARTNERS_WHO_ACCEPT: usize = 3;

/// Runs `demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let tenant = Tenant::demo();
    let app = tenant
        .applications()
        .iter()
        .find(|a| a.client_secret.is_some() && a.roles.iter().any(|r| r == "User.ReadWrite.All"))
        .cloned()
        .context("the demo tenant has no application that may convert users")?;
    let running = graph_emulator::start(tenant, EmulatorConfig::default())
        .await
        .context("cannot start the demo emulator")?;
    let root = running.url();
    let tenant_id = running.tenant_id().to_owned();
    eprintln!("Demo tenant {tenant_id} served by the offline Graph emulator at {root}\n");

    let endpoints = Endpoints::new(root.clone(), root.clone())?;
    let client = GraphClient::with_client_secret(
        endpoints,
        &tenant_id,
        &app.client_id,
        SecretString::from(app.client_secret.clone().unwrap_or_default()),
        ClientOptions::default(),
    )?;
    let connection = Connection {
        client,
        tenant_id: tenant_id.clone(),
    };

    let scratch = tempfile::Builder::new()
        .prefix("b2b-convert-demo-")
        .tempdir()
        .context("creating a scratch folder for the demo")?;
    let workdir = scratch.path();
    let input_path = workdir.join("demo-input.csv");
    std::fs::write(&input_path, DEMO_INPUT)
        .with_context(|| format!("writing {}", input_path.display()))?;
    let input = parse_input(&input_path, DEMO_INPUT.as_bytes())?;
    let options = PlanOptions::new(&tenant_id);
    let clock = clock::system();

    output::write_line("== 1. plan: every row checked, every refusal explained ==")?;
    let plan = progress::plan(
        &connection,
        &input,
        &options,
        Strategy::Auto,
        DEMO_CONCURRENCY,
    )
    .await?;
    render_plan(&plan, OutputFormat::Table)?;

    output::write_line(
        "\n== 2. apply: mail set, invitation sent, state read back — each step journaled ==",
    )?;
    let journal = Journal::open(&workdir.join("demo.db"), clock.clone())?;
    let command = "b2b-convert demo".to_owned();
    let input_name = input_path.display().to_string();
    let graph_root = root.to_string();
    let run = journal.start_run(
        &NewRun {
            input_path: &input_name,
            input_sha256: &input.sha256,
            tenant_id: &tenant_id,
            graph_root: &graph_root,
            command: &command,
            options: &options,
        },
        &plan,
    )?;
    let execution =
        progress::execute(&connection, &journal, &run, &ExecutorOptions::default()).await?;
    output::write_line(results_table(&execution.results))?;

    output::write_line(format!(
        "\n== 3. {PARTNERS_WHO_ACCEPT} partners open the emailed link and press Accept =="
    ))?;
    let accepted = redeem_some(&running.state(), PARTNERS_WHO_ACCEPT).await?;
    for who in &accepted {
        output::write_line(format!("  {who} accepted"))?;
    }

    output::write_line("\n== 4. status --refresh: who has accepted, who to chase ==")?;
    status::refresh(&connection.client, &journal).await?;
    let rows = status::status_rows(&journal, &run, clock.now())?;
    let mut table = output::table(&["User", "External email", "Invitation state"]);
    for row in rows.iter().filter(|r| r.decision == Decision::Convert) {
        table.add_row(vec![
            row.display_name.clone().unwrap_or_default(),
            row.external_email.clone(),
            row.state
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ]);
    }
    output::write_line(table)?;
    output::write_line(format!(
        "\n{}. Same object ids, UPNs and group memberships; the partners now sign in with their own identity.",
        summary(&plan)
    ))?;
    output::write_line(
        "Try it yourself: `b2b-convert emulator --listen 127.0.0.1:8080`, then plan/apply with \
         --graph-url/--authority-url http://127.0.0.1:8080 (README, \"The emulator\").",
    )?;

    if args.keep_running {
        eprintln!("\nThe demo emulator keeps running at {root} — Ctrl-C stops it.");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Opens the first `count` invitation emails in the emulator's outbox and accepts them
/// through the redemption page, as a partner would. Returns who accepted.
async fn redeem_some(state: &serde_json::Value, count: usize) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut accepted = Vec::new();
    let messages = state["messages"].as_array().cloned().unwrap_or_default();
    for message in messages.iter().take(count) {
        let (Some(url), Some(to)) = (message["inviteRedeemUrl"].as_str(), message["to"].as_str())
        else {
            continue;
        };
        let page = http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        anyhow::ensure!(
            page.contains("accept"),
            "the redemption page has no Accept button"
        );
        http.post(url)
            .form(&[("accept", "1")])
            .send()
            .await?
            .error_for_status()?;
        accepted.push(to.to_owned());
    }
    Ok(accepted)
}
