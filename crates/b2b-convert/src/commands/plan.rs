//! `plan`: read-only; one decision per input row.

use std::process::ExitCode;

use anyhow::Context;
use b2b_convert_core::facts::{self, FactsProgress};
use b2b_convert_core::input::{self, Input};
use b2b_convert_core::plan::{self as planner, Action, Decision, Plan, PlanOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{OutputFormat, PlanArgs, PlanningArgs};
use crate::connection::{Connection, connect};
use crate::output;

/// Runs `plan`.
pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let input = input::read_input(&args.planning.input)?;
    let connection = connect(&args.planning.connection)?;
    let plan = make_plan(&connection, &input, &args.planning).await?;
    render_plan(&plan, args.output)?;
    Ok(ExitCode::SUCCESS)
}

/// The plan options the arguments ask for.
pub fn plan_options(planning: &PlanningArgs, tenant_id: &str) -> anyhow::Result<PlanOptions> {
    let mut options = PlanOptions::new(tenant_id);
    options.allow_privileged = planning.allow_privileged;
    options.revoke_sessions = planning.revoke_sessions;
    options.default_send_email = !planning.no_email;
    if let Some(url) = &planning.redirect_url {
        input::check_redirect_url(url)
            .map_err(anyhow::Error::msg)
            .context("--redirect-url")?;
        options.default_redirect_url = url.clone();
    }
    Ok(options)
}

/// Reads the facts and plans every row.
pub async fn make_plan(
    connection: &Connection,
    input: &Input,
    planning: &PlanningArgs,
) -> anyhow::Result<Plan> {
    let options = plan_options(planning, &connection.tenant_id)?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} reading the tenant {pos}/{len} {wide_bar}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |p: FactsProgress| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    };
    let facts = facts::gather(
        &connection.client,
        &input.rows,
        usize::from(planning.concurrency),
        &progress,
    )
    .await;
    bar.finish_and_clear();
    let facts = facts.context("planning stopped: the tenant could not be read")?;
    let mut plan = planner::plan(&input.rows, &facts, &options);
    if planning.no_email {
        // --no-email wins over a row's sendEmail=true: the admin asked for silence.
        for entry in &mut plan.entries {
            for action in &mut entry.actions {
                if let Action::Invite { settings } = action {
                    settings.send_email = false;
                }
            }
        }
    }
    Ok(plan)
}

/// A one-line summary of the decisions.
pub fn summary(plan: &Plan) -> String {
    let counts = plan.counts();
    let count = |d| counts.get(&d).copied().unwrap_or(0);
    format!(
        "{} rows: {} to convert, {} to skip, {} blocked",
        plan.entries.len(),
        count(Decision::Convert),
        count(Decision::Skip),
        count(Decision::Blocked)
    )
}

fn describe_actions(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::RevokeSessions => Some("revoke sessions".to_owned()),
            Action::UpdateMail { to, .. } => Some(format!("set mail to {to}")),
            Action::Invite { settings } => Some(if settings.send_email {
                "invite (Microsoft emails the link)".to_owned()
            } else {
                "invite (no email: deliver the printed link)".to_owned()
            }),
            Action::Verify => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Prints the plan in the chosen format.
pub fn render_plan(plan: &Plan, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => output::write_json(&plan.entries)?,
        OutputFormat::Csv => output::write_csv(
            &[
                "row",
                "user",
                "userId",
                "displayName",
                "externalEmail",
                "decision",
                "reasons",
                "messages",
                "actions",
            ],
            plan.entries.iter().map(|e| {
                vec![
                    e.row.to_string(),
                    e.user.clone(),
                    e.user_id.clone().unwrap_or_default(),
                    e.display_name.clone().unwrap_or_default(),
                    e.external_email.clone(),
                    e.decision.as_str().to_owned(),
                    e.reasons
                        .iter()
                        .map(|r| r.code.as_str())
                        .collect::<Vec<_>>()
                        .join(";"),
                    e.reasons
                        .iter()
                        .map(|r| r.message.as_str())
                        .collect::<Vec<_>>()
                        .join(" | "),
                    describe_actions(&e.actions),
                ]
            }),
        )?,
        OutputFormat::Table => output::write_line(plan_table(plan))?,
    }
    Ok(())
}

/// The plan as a table for people, with its summary lines.
pub fn plan_table(plan: &Plan) -> String {
    let mut table = output::table(&[
        "Row",
        "User",
        "External email",
        "Decision",
        "Why / what happens",
    ]);
    for e in &plan.entries {
        let who = match (&e.display_name, &e.user_principal_name) {
            (Some(name), Some(upn)) => format!("{name}\n{upn}"),
            _ => e.user.clone(),
        };
        let why = if e.decision == Decision::Convert {
            let mut lines = vec![describe_actions(&e.actions)];
            lines.extend(e.notes.iter().cloned());
            lines.join("\n")
        } else {
            e.reasons
                .iter()
                .map(|r| format!("{}: {}", r.code.as_str(), r.message))
                .collect::<Vec<_>>()
                .join("\n")
        };
        table.add_row(vec![
            e.row.to_string(),
            who,
            e.external_email.clone(),
            e.decision.as_str().to_owned(),
            why,
        ]);
    }
    let mut text = format!("{table}\n{}", summary(plan));
    if plan.entries.iter().any(|e| e.decision == Decision::Convert) {
        text.push_str(
            "\nConverted users keep their object id, UPN, groups, app assignments and userType \
             (Member: billing does not switch to MAU).",
        );
    }
    text
}
