//! A plan for people (a table with its summary), for scripts (JSON) and for
//! spreadsheets (CSV): `plan` prints it, `apply` shows it before asking, `demo` too.

use b2b_convert_core::plan::{Action, Decision, Plan};

use crate::cli::OutputFormat;
use crate::output;

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
                    e.decision.to_string(),
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
            e.decision.to_string(),
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
