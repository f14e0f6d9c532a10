//! `reinvite`: a fresh invitation (a new redeem URL, one more email) for users whose
//! invitation has been pending too long, or for users named with `--user`/`--input`.

use std::process::ExitCode;

use b2b_convert_core::clock;
use b2b_convert_core::input;
use b2b_convert_core::journal::Journal;
use b2b_convert_core::permissions::Need;
use b2b_convert_core::plan::PlanOptions;
use b2b_convert_core::reinvite::{self, Named, NamedOutcome, Reinvited};
use b2b_convert_core::status;

use crate::cli::{OutputFormat, ReinviteArgs};
use crate::connection::connect;
use crate::output;
use crate::prompt::confirm;
use crate::render;

/// Runs `reinvite`.
pub async fn run(args: ReinviteArgs) -> anyhow::Result<ExitCode> {
    let Some(older_than) = args.pending_older_than else {
        return named(&args).await;
    };
    let clock = clock::system();
    let journal = Journal::open_existing(&args.journal, clock.clone())?;
    let connection = connect(&args.connection).await?;
    connection.require(&[Need::ReadUsers, Need::InviteExisting])?;
    // Who accepted since the last check must not be reinvited: read the states first.
    let refresh = status::refresh(&connection.client, &journal).await?;
    render::status::warn_unreadable(&refresh);
    let due = reinvite::due(&journal, clock.now(), older_than)?;
    if due.is_empty() {
        eprintln!("No invitation has been pending longer than that.");
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(
        &format!("Send fresh invitations to {} users?", due.len()),
        args.yes,
    )? {
        eprintln!("Nothing was sent.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut results = Vec::new();
    for invitation in &due {
        let (outcome, redeem_url, error) =
            match reinvite::send(&connection.client, &journal, invitation).await? {
                Reinvited::Sent { redeem_url } => ("reinvited", redeem_url, None),
                Reinvited::Failed(error) => ("failed", None, Some(error)),
                Reinvited::NotInJournal => continue,
            };
        results.push(Resent {
            user_id: invitation.user_id.clone(),
            display_name: invitation.display_name.clone(),
            external_email: invitation.external_email.clone(),
            outcome,
            redeem_url,
            error,
        });
    }
    render_results(&results, args.output)?;
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `reinvite --user … / --input F`: users named directly, whoever invited them.
async fn named(args: &ReinviteArgs) -> anyhow::Result<ExitCode> {
    let connection = connect(&args.connection).await?;
    connection.require(&[Need::ReadUsers, Need::InviteExisting])?;
    let mut defaults = PlanOptions::new(&connection.tenant_id);
    defaults.never_send_email = args.no_email;
    let mut targets: Vec<Named> = args
        .user
        .iter()
        .map(|reference| Named {
            reference: reference.clone(),
            settings: defaults.invitation_settings(None),
        })
        .collect();
    if let Some(path) = &args.input {
        let input = input::read_input(path)?;
        targets.extend(input.rows.iter().map(|row| Named {
            reference: row.user.clone(),
            settings: defaults.invitation_settings(Some(row)),
        }));
    }
    if !confirm(
        &format!(
            "Send fresh invitations to the {} users named, where still pending?",
            targets.len()
        ),
        args.yes,
    )? {
        eprintln!("Nothing was sent.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut results = Vec::new();
    for target in &targets {
        let outcome = reinvite::send_to_named(&connection.client, target).await;
        results.push(match outcome {
            NamedOutcome::Sent {
                user_id,
                address,
                redeem_url,
            } => Resent {
                user_id,
                display_name: Some(target.reference.clone()),
                external_email: address,
                outcome: "reinvited",
                redeem_url,
                error: None,
            },
            NamedOutcome::NotSent(reason) => Resent {
                user_id: target.reference.clone(),
                display_name: Some(target.reference.clone()),
                external_email: String::new(),
                outcome: "not_sent",
                redeem_url: None,
                error: Some(reason),
            },
        });
    }
    render_results(&results, args.output)?;
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One fresh invitation, as printed.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Resent {
    user_id: String,
    display_name: Option<String>,
    external_email: String,
    /// `reinvited`, `failed` or `not_sent`.
    outcome: &'static str,
    /// The new link, when Microsoft does not email it.
    redeem_url: Option<String>,
    error: Option<String>,
}

fn render_results(results: &[Resent], format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => output::write_json(&results)?,
        OutputFormat::Csv => output::write_csv(
            &[
                "userId",
                "displayName",
                "externalEmail",
                "outcome",
                "redeemUrl",
                "error",
            ],
            results.iter().map(|r| {
                vec![
                    r.user_id.clone(),
                    r.display_name.clone().unwrap_or_default(),
                    r.external_email.clone(),
                    r.outcome.to_owned(),
                    r.redeem_url.clone().unwrap_or_default(),
                    r.error.clone().unwrap_or_default(),
                ]
            }),
        )?,
        OutputFormat::Table => {
            let mut table = output::table(&["User", "External email", "Result"]);
            for r in results {
                let result = match (&r.error, &r.redeem_url) {
                    (Some(error), _) => format!("failed: {error}"),
                    (None, Some(url)) => format!("re-invited — deliver this link: {url}"),
                    (None, None) => "re-invited (Microsoft emails the new link)".to_owned(),
                };
                table.add_row(vec![
                    r.display_name.clone().unwrap_or_else(|| r.user_id.clone()),
                    r.external_email.clone(),
                    result,
                ]);
            }
            output::write_line(table)?;
        }
    }
    Ok(())
}
