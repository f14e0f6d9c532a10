//! `demo`: the whole job on the embedded demo tenant, with no Azure tenant — start the
//! emulator in-process, plan (the pre-flight included: partners blocked by policy,
//! privileged users, each partner's predicted redemption), apply, let a few partners
//! redeem their invitations as they would (open the emailed link, sign in with their
//! organisation's account or a one-time passcode, press Accept), then show who has
//! accepted.

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
    let claims = client.sign_in().await?;
    let connection = Connection {
        client,
        tenant_id: tenant_id.clone(),
        claims,
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
        "\n== 3. {PARTNERS_WHO_ACCEPT} partners open the emailed link, sign in and press Accept =="
    ))?;
    let accepted = redeem_some(&running, PARTNERS_WHO_ACCEPT).await?;
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
                .map(|s| s.label().to_owned())
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

/// Opens `count` invitation emails in the emulator's outbox and accepts them through
/// the redemption page, as a partner would: with their organisation's account, or (one
/// partner without one, when there is such a partner) a one-time passcode the page
/// emails them. Returns who accepted.
async fn redeem_some(
    running: &graph_emulator::RunningEmulator,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let state = running.state();
    // Every invitation's page, in the order the emails went out.
    let mut pages = Vec::new();
    for message in state["messages"].as_array().into_iter().flatten() {
        let (Some("invitation"), Some(url), Some(to)) = (
            message["kind"].as_str(),
            message["inviteRedeemUrl"].as_str(),
            message["to"].as_str(),
        ) else {
            continue;
        };
        let page = http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let otp = page.contains("content=\"emailOneTimePasscode\"");
        anyhow::ensure!(
            otp || page.contains("accept"),
            "the redemption page has no Accept button"
        );
        pages.push((url.to_owned(), to.to_owned(), otp));
    }
    // The first partner who signs in with a passcode, and the first of the others.
    let first_otp = pages.iter().position(|(_, _, otp)| *otp);
    let mut chosen: Vec<usize> = (0..pages.len())
        .filter(|&i| !pages[i].2)
        .take(count.saturating_sub(usize::from(first_otp.is_some())))
        .chain(first_otp)
        .collect();
    chosen.sort_unstable();

    let mut accepted = Vec::new();
    for (url, to, otp) in chosen.into_iter().filter_map(|i| pages.get(i)) {
        let mut form = vec![("accept", "1".to_owned())];
        if *otp {
            // No Entra tenant: "Send code", then the code from the email.
            http.post(url)
                .form(&[("action", "sendCode")])
                .send()
                .await?
                .error_for_status()?;
            let code = running.state()["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["kind"] == "oneTimePasscode" && m["to"] == to.as_str())
                .filter_map(|m| m["passcode"].as_str().map(str::to_owned))
                .next_back()
                .context("the passcode email did not arrive")?;
            output::write_line(format!("  {to} got a one-time passcode by email"))?;
            form.push(("code", code));
        }
        http.post(url)
            .form(&form)
            .send()
            .await?
            .error_for_status()?;
        accepted.push(to.clone());
    }
    Ok(accepted)
}
