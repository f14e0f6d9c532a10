//! A plan for people (a table with its summary), for scripts (JSON) and for
//! spreadsheets (CSV): `plan` prints it, `apply` shows it before asking, `demo` too.

use b2b_convert_core::plan::{Action, Decision, Plan};
use b2b_convert_core::preflight::{Redemption, RedemptionMethod};

use crate::cli::OutputFormat;
use crate::output;

/// A one-line summary of the decisions.
pub fn summary(plan: &Plan) -> String {
    let counts = plan.counts();
    let count = |d| counts.get(&d).copied().unwrap_or(0);
    format!(
        "{} {}: {} to convert, {} to skip, {} blocked",
        plan.entries.len(),
        if plan.entries.len() == 1 {
            "row"
        } else {
            "rows"
        },
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
            Action::AddOtherMail { address } => Some(format!("add {address} to otherMails")),
            Action::Invite { settings } => Some(if settings.send_email {
                "invite (Microsoft emails the link)".to_owned()
            } else {
                "invite (no email: deliver the printed link)".to_owned()
            }),
            Action::SetUserType { to } => Some(format!("set userType to {to}")),
            Action::ScramblePassword => Some("scramble the cloud password".to_owned()),
            Action::Verify => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the partner will redeem, in words.
fn describe_redemption(redemption: &Redemption) -> String {
    let how = match redemption.method {
        RedemptionMethod::Entra => {
            let tenant = redemption
                .partner_tenant
                .as_ref()
                .map_or("organisation's", |t| t.0.display_name.as_str());
            format!("signs in with their {tenant} Entra account")
        }
        RedemptionMethod::MicrosoftAccountOrOtp => {
            "Microsoft account, or a one-time passcode by email".to_owned()
        }
        RedemptionMethod::MicrosoftAccount => "Microsoft account".to_owned(),
        RedemptionMethod::Unknown => "not predicted (a check could not be made)".to_owned(),
    };
    if redemption.automatic {
        format!("redeems: {how} (automatic redemption)")
    } else {
        format!("redeems: {how}")
    }
}

/// The checks the pre-flight could not make, one line each (empty when all were made).
pub fn findings_lines(plan: &Plan) -> String {
    plan.findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints the plan in the chosen format. The pre-flight checks that could not be made
/// go under the table, or to stderr beside JSON and CSV (which stay what scripts parse:
/// the JSON an array of entries, each entry's `redemption.method` `unknown` where a
/// check was missing).
pub fn render_plan(plan: &Plan, format: OutputFormat) -> anyhow::Result<()> {
    if format != OutputFormat::Table {
        for finding in &plan.findings {
            eprintln!("b2b-convert: {finding}");
        }
    }
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
                "redemption",
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
                    e.redemption
                        .as_ref()
                        .map(|r| r.method.to_string())
                        .unwrap_or_default(),
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
            lines.extend(e.redemption.as_ref().map(describe_redemption));
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
    if !plan.findings.is_empty() {
        text.push('\n');
        text.push_str(&findings_lines(plan));
    }
    text
}

/// For a large input, what the admin needs before saying yes without reading every
/// row: the counts per decision and per reason, and the first blocked rows.
pub fn plan_digest(plan: &Plan, first_blocked: usize) -> String {
    let mut by_reason: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for entry in plan
        .entries
        .iter()
        .filter(|e| e.decision == Decision::Blocked)
    {
        for reason in &entry.reasons {
            *by_reason.entry(reason.code.as_str()).or_insert(0) += 1;
        }
    }
    let mut text = summary(plan);
    if !by_reason.is_empty() {
        let mut reasons = output::table(&["Reason", "Rows"]);
        let mut sorted: Vec<_> = by_reason.into_iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (code, rows) in sorted {
            reasons.add_row(vec![code.to_owned(), rows.to_string()]);
        }
        text.push_str(&format!("\n{reasons}"));
        let blocked = Plan {
            entries: plan
                .entries
                .iter()
                .filter(|e| e.decision == Decision::Blocked)
                .take(first_blocked)
                .cloned()
                .collect(),
            findings: Vec::new(),
        };
        let table = plan_table(&blocked);
        // plan_table ends with its own summary line, which would count only these rows.
        let rows = table.rsplit_once('\n').map_or(table.as_str(), |(t, _)| t);
        text.push_str(&format!("\nThe first blocked rows:\n{rows}"));
    }
    if !plan.findings.is_empty() {
        text.push('\n');
        text.push_str(&findings_lines(plan));
    }
    text.push_str("\n(--show-plan prints every row; `plan --output csv` writes them all.)");
    text
}
