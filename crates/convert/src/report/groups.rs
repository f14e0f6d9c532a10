//! Rows not converted, grouped by reason: what to do is said once per group, and each
//! row keeps only what is its own.
//!
//! The planner writes one message per row and reason, and for many codes the closing
//! sentences (the advice) are the same on every row. Those shared sentences are taken
//! off the rows and shown once, collapsed, beside the group's fix; a row shows the rest.
//! A row blocked for two reasons is listed in both groups, each naming the other.

use std::collections::BTreeMap;

use super::rich::Rich;
use super::view::Address;
use super::words;
use crate::journal::EntryRecord;
use crate::plan::{Decision, ReasonCode};

/// A row's own part of a message longer than this is clipped (the whole opens).
const ROW_DETAIL_LIMIT: usize = 160;

/// The rows with one reason.
pub(super) struct Group {
    pub code: ReasonCode,
    pub title: &'static str,
    pub fix: Rich,
    /// The planner's sentences every row of the group shares, said once.
    pub shared: Option<Rich>,
    pub rows: Vec<GroupRow>,
}

impl Group {
    /// Whether a row of the group has another reason (the page adds a column then).
    pub fn has_also(&self) -> bool {
        self.rows.iter().any(|r| !r.also.is_empty())
    }
}

/// One row of a group.
pub(super) struct GroupRow {
    pub row: u64,
    pub display_name: Option<String>,
    pub user: Address,
    pub external_email: Address,
    /// What the planner said about this row beyond the shared sentences.
    pub detail: Option<Rich>,
    /// The row's other reasons, in plain words.
    pub also: Vec<&'static str>,
}

/// The rows of `entries` decided `decision`, grouped by reason: the largest group
/// first, ties in the order of the reason codes.
pub(super) fn groups(entries: &[EntryRecord], decision: Decision) -> Vec<Group> {
    let mut by_code: BTreeMap<ReasonCode, Vec<(&EntryRecord, String)>> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.plan.decision == decision) {
        for reason in &entry.plan.reasons {
            let members = by_code.entry(reason.code).or_default();
            match members.last_mut() {
                // A row with one code twice is one member of the group, saying both.
                Some((last, message)) if std::ptr::eq(*last, entry) => {
                    message.push(' ');
                    message.push_str(&reason.message);
                }
                _ => members.push((entry, reason.message.clone())),
            }
        }
    }
    let mut groups: Vec<Group> = by_code
        .into_iter()
        .map(|(code, members)| {
            let messages: Vec<&str> = members.iter().map(|(_, m)| m.as_str()).collect();
            let (shared, own) = split_shared(&messages);
            let words = words::reason(code);
            Group {
                code,
                title: words.title,
                fix: Rich::new(words.fix),
                shared: shared.map(|s| Rich::new(&s)),
                rows: members
                    .iter()
                    .zip(own)
                    .map(|((entry, _), own)| {
                        let plan = &entry.plan;
                        GroupRow {
                            row: plan.row,
                            display_name: plan.display_name.clone(),
                            user: Address::new(
                                plan.user_principal_name.as_deref().unwrap_or(&plan.user),
                            ),
                            external_email: Address::new(&plan.external_email),
                            detail: own.map(|text| Rich::clipped(&text, ROW_DETAIL_LIMIT)),
                            also: plan.reasons.iter().filter(|r| r.code != code).fold(
                                Vec::new(),
                                |mut also, r| {
                                    let title = words::reason(r.code).title;
                                    if !also.contains(&title) {
                                        also.push(title);
                                    }
                                    also
                                },
                            ),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    // Stable: equal counts keep the codes' order.
    groups.sort_by_key(|g| std::cmp::Reverse(g.rows.len()));
    groups
}

/// The closing sentences all `messages` share (when there are at least two), and what
/// is left of each message without them (`None` when nothing is).
fn split_shared(messages: &[&str]) -> (Option<String>, Vec<Option<String>>) {
    let split: Vec<Vec<&str>> = messages.iter().map(|m| sentences(m)).collect();
    let shared = if messages.len() < 2 {
        0
    } else {
        let shortest = split.iter().map(Vec::len).min().unwrap_or(0);
        (0..shortest)
            .take_while(|&k| {
                let first = &split[0];
                split
                    .iter()
                    .all(|s| s[s.len() - 1 - k] == first[first.len() - 1 - k])
            })
            .count()
    };
    let shared_text = (shared > 0).then(|| {
        let first = &split[0];
        first[first.len() - shared..].join(" ")
    });
    let own = split
        .iter()
        .map(|s| {
            let own = s[..s.len() - shared].join(" ");
            (!own.is_empty()).then_some(own)
        })
        .collect();
    (shared_text, own)
}

/// A message's sentences: each ends at a `.`, `!` or `?` followed by a space, outside
/// backticks (a quoted value may hold `. `).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_code = false;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '`' => in_code = !in_code,
            '.' | '!' | '?'
                if !in_code && chars.peek().is_some_and(|(_, next)| next.is_whitespace()) =>
            {
                let sentence = text[start..=at].trim();
                if !sentence.is_empty() {
                    out.push(sentence);
                }
                start = at + 1;
            }
            _ => {}
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanEntry, Reason};

    fn row(row: u64, decision: Decision, reasons: &[(ReasonCode, &str)]) -> EntryRecord {
        EntryRecord {
            run_id: "r".into(),
            plan: PlanEntry {
                row,
                user: format!("user{row}@contoso.com"),
                user_id: None,
                display_name: Some(format!("User {row}")),
                user_principal_name: None,
                external_email: format!("user{row}@fabrikam.com"),
                decision,
                reasons: reasons
                    .iter()
                    .map(|(code, message)| Reason {
                        code: *code,
                        message: (*message).to_owned(),
                    })
                    .collect(),
                notes: vec![],
                actions: vec![],
                redemption: None,
            },
            outcome: None,
            outcome_at: None,
            error: None,
        }
    }

    #[test]
    fn sentences_split_outside_backticks() {
        assert_eq!(
            sentences("No user has `a. b`. Check the spelling.  Or not? Yes"),
            vec![
                "No user has `a. b`.",
                "Check the spelling.",
                "Or not?",
                "Yes"
            ]
        );
        assert_eq!(
            sentences("mail `x@y.com`, done."),
            vec!["mail `x@y.com`, done."]
        );
        assert!(sentences("  ").is_empty());
    }

    #[test]
    fn rows_are_grouped_by_reason_and_the_shared_advice_is_said_once() {
        let not_found = |who: &str| {
            format!("No user has the mail `{who}`. Check the spelling, or whether it was deleted.")
        };
        let mailbox = "The user has a mailbox. Remove it first.";
        let entries = vec![
            row(
                2,
                Decision::Blocked,
                &[(ReasonCode::NotFound, &not_found("a@x"))],
            ),
            row(
                3,
                Decision::Blocked,
                &[
                    (ReasonCode::HasMailbox, mailbox),
                    (ReasonCode::AccountDisabled, "Disabled."),
                ],
            ),
            row(4, Decision::Convert, &[]),
            row(
                5,
                Decision::Blocked,
                &[(ReasonCode::NotFound, &not_found("b@x"))],
            ),
            row(6, Decision::Blocked, &[(ReasonCode::HasMailbox, mailbox)]),
            row(
                7,
                Decision::Blocked,
                &[(ReasonCode::NotFound, &not_found("c@x"))],
            ),
            row(
                8,
                Decision::Skip,
                &[(ReasonCode::AlreadyInvited, "Pending.")],
            ),
        ];
        let groups = groups(&entries, Decision::Blocked);
        let summary: Vec<(ReasonCode, Vec<u64>)> = groups
            .iter()
            .map(|g| (g.code, g.rows.iter().map(|r| r.row).collect()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (ReasonCode::NotFound, vec![2, 5, 7]),
                (ReasonCode::HasMailbox, vec![3, 6]),
                (ReasonCode::AccountDisabled, vec![3]),
            ],
            "largest first, a row with two reasons in both, skipped rows elsewhere"
        );

        let not_found = &groups[0];
        assert_eq!(not_found.title, "User not found");
        assert_eq!(
            not_found.shared.as_ref().map(Rich::plain).as_deref(),
            Some("Check the spelling, or whether it was deleted.")
        );
        let details: Vec<String> = not_found
            .rows
            .iter()
            .map(|r| r.detail.as_ref().map(Rich::plain).unwrap_or_default())
            .collect();
        assert_eq!(
            details,
            vec![
                "No user has the mail a@x.",
                "No user has the mail b@x.",
                "No user has the mail c@x."
            ],
            "each row keeps its own sentence, without the advice"
        );

        let mailbox = &groups[1];
        assert_eq!(
            mailbox.shared.as_ref().map(Rich::plain).as_deref(),
            Some("The user has a mailbox. Remove it first.")
        );
        assert!(mailbox.rows.iter().all(|r| r.detail.is_none()), "said once");
        assert_eq!(mailbox.rows[0].also, vec!["Account disabled"]);
        assert!(mailbox.rows[1].also.is_empty());

        let disabled = &groups[2];
        assert!(disabled.shared.is_none(), "one row: nothing to share");
        assert_eq!(
            disabled.rows[0].detail.as_ref().map(Rich::plain).as_deref(),
            Some("Disabled.")
        );

        let skipped = super::groups(&entries, Decision::Skip);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].code, ReasonCode::AlreadyInvited);
    }

    #[test]
    fn a_long_row_message_is_clipped_with_the_whole_kept() {
        let long = format!("`{}` is held by many. ", "x@y".repeat(5)) + &"word ".repeat(60);
        let entries = vec![row(
            2,
            Decision::Blocked,
            &[(ReasonCode::EmailInUse, &long)],
        )];
        let groups = groups(&entries, Decision::Blocked);
        let detail = groups[0].rows[0].detail.as_ref().expect("detail");
        assert!(detail.short.is_some());
        assert_eq!(detail.plain(), long.replace('`', "").trim());
    }
}
