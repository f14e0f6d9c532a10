//! The HTML run report: one self-contained page an admin can open, print or show their
//! manager, covering every run of a journal (a picker switches runs; the latest shows
//! first). For each run it opens with a headline ("412 of 500 users converted, 380
//! accepted"), then the counts per decision, outcome, invitation state and reason, the
//! links the admin must deliver by hand (invitations sent without email) and the
//! Microsoft Teams link for partners, the rows not converted grouped by reason with what
//! to do said once per group, every row in a filterable table, and the run's details.
//! Everything is in plain words: no Graph spelling (`PendingAcceptance`) and no literal
//! backtick (the planner's quoted values show as code). It fits a 1400 px window.
//!
//! The page loads nothing from the network. Its stylesheet and its small script are
//! inline and allowed by hash in a `Content-Security-Policy` that forbids everything
//! else, so even a display name that slipped through unescaped could not run script or
//! fetch anything. The first line of defence is still escaping: the page is an askama
//! template, which escapes every interpolated value (`<`, `>`, `&`, `"`, `'`) in text and
//! in attributes alike; only the two constant assets are marked safe. No value from the
//! tenant or the input is ever put inside the script: it reads the page from the DOM.
//!
//! One job per file: `data` reads the journal, `view` turns its records into the page's
//! view model, with `groups` (rows by reason), `rich` (backticks and clipping) and
//! `words` (plain words for the tool's codes); `file` writes the page safely, and (with
//! the `testkit` feature only) `browser` tells the end-to-end browser test what the page
//! must show.

#[cfg(feature = "testkit")]
mod browser;
mod data;
mod file;
mod groups;
mod rich;
mod view;
mod words;

use askama::Template;

#[cfg(feature = "testkit")]
pub use browser::{BROWSER_WIDTH, browser_check_script, browser_expectations};
pub use data::{ReportInput, RunInput};
pub use file::write_html;

/// Renders the report page.
pub fn render_html(input: &ReportInput) -> String {
    view::Page::new(input).render().unwrap_or_else(|_| {
        // Rendering only fails if a value's `Display` fails, which none of ours do; a
        // fixed page (no data, so nothing to escape) beats a panic in a report command.
        String::from(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>b2b-convert run report</title></head><body>\
             <p>The report could not be rendered.</p></body></html>\n",
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::fs;
    use std::path::Path;

    use super::view::{SCRIPT, STYLE, csp_hash};
    use super::*;
    use crate::clock::FixedClock;
    use crate::journal::{Invited, Journal, NewRun, StepKind, StepOutcome, StepResult};
    use crate::plan::{
        Action, Decision, InvitationSettings, Plan, PlanEntry, PlanOptions, Reason, ReasonCode,
    };
    use crate::vocabulary::{EntryOutcome, InvitationState};

    const XSS_NAME: &str = "<script>alert(\"x\")</script>";
    const QUOTES_NAME: &str = "Tom & \"Jerry\" O'Brien";
    const IMG_NAME: &str = "\"><img src=x onerror=\"window.__xss=1\">";
    const TENANT: &str = "00000000-0000-4000-8000-00000000000t";
    const REDEEM_URL: &str = "https://login.microsoftonline.com/redeem?rd=abc&ticket=<x>";
    const ADVICE: &str = "Check the spelling, or whether the account was deleted.";

    /// An error message too long for a table cell.
    fn long_error() -> String {
        format!(
            "invite: 400 Request_BadRequest: Invalid value '<b>x</b>' for property \"mail\"{}",
            " and more detail".repeat(20)
        )
    }

    /// A journal built in the test, read back as the report command reads it.
    struct Fixture {
        _dir: tempfile::TempDir,
        input: ReportInput,
    }

    fn entry(row: u64, name: Option<&str>, decision: Decision, reasons: Vec<Reason>) -> PlanEntry {
        PlanEntry {
            row,
            user: format!("user{row}@contoso.com"),
            user_id: name.map(|_| format!("id-{row}")),
            display_name: name.map(str::to_owned),
            user_principal_name: name.map(|_| format!("user{row}@contoso.com")),
            external_email: format!("user{row}@fabrikam.com"),
            decision,
            reasons,
            notes: vec![],
            actions: if decision == Decision::Convert {
                vec![
                    Action::Invite {
                        settings: InvitationSettings {
                            redirect_url: "https://myapps.microsoft.com/?tenantid=t".into(),
                            send_email: true,
                            message: None,
                            cc: None,
                            language: None,
                        },
                    },
                    Action::Verify,
                ]
            } else {
                vec![]
            },
            redemption: None,
        }
    }

    fn reason(code: ReasonCode, message: &str) -> Reason {
        Reason {
            code,
            message: message.to_owned(),
        }
    }

    fn not_found(row: u64, who: &str) -> PlanEntry {
        let mut e = entry(
            row,
            None,
            Decision::Blocked,
            vec![reason(
                ReasonCode::NotFound,
                &format!("No user has the object id, UPN or mail `{who}`. {ADVICE}"),
            )],
        );
        e.user = who.to_owned();
        e
    }

    fn new_run<'a>(options: &'a PlanOptions, input_path: &'a str, command: &'a str) -> NewRun<'a> {
        NewRun {
            input_path,
            input_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            tenant_id: TENANT,
            graph_root: "http://127.0.0.1:8443/v1.0/",
            command,
            options,
        }
    }

    /// Two runs. The older one: one user converted and accepted since, one not found.
    /// The latest: every decision and outcome, every invitation state the journal can
    /// hold for a converted row, a link to deliver, a step without an answer, reasons
    /// shared by rows, and names and messages full of markup and backticks.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new("2026-11-10T08:00:00Z".parse().unwrap()));
        let journal = Journal::open(&dir.path().join("run.db"), clock.clone()).unwrap();
        let options = PlanOptions::new("t");

        let invite = |run_id: &str, e: &PlanEntry, redeem_url: Option<&str>| {
            let user_id = e.user_id.as_deref().unwrap();
            let step = journal
                .record_intent(
                    run_id,
                    e.row,
                    user_id,
                    StepKind::Invite,
                    &serde_json::json!({"invitedUserEmailAddress": e.external_email}),
                )
                .unwrap();
            let invited = Invited {
                run_id,
                entry: e,
                user_id,
                redeem_url,
            };
            let ok = StepOutcome {
                http_status: Some(201),
                request_id: Some("req-ok".into()),
                ..Default::default()
            };
            journal
                .record_outcome(step, StepResult::Ok, &ok, Some(&invited))
                .unwrap();
        };

        let mut old_user = entry(2, Some("Old Timer"), Decision::Convert, vec![]);
        old_user.user_id = Some("id-old".into());
        let older = Plan {
            entries: vec![old_user, not_found(3, "gone@contoso.com")],
            findings: Vec::new(),
        };
        let run = journal
            .start_run(
                &new_run(&options, "first.csv", "b2b-convert apply --input first.csv"),
                &older,
            )
            .unwrap();
        invite(&run.id, &older.entries[0], None);
        journal
            .finish_entry(&run.id, 2, EntryOutcome::Converted, None)
            .unwrap();
        journal.finish_run(&run.id).unwrap();
        journal
            .record_state(
                "id-old",
                Some(&InvitationState::Accepted),
                Some("2026-11-12T10:00:00Z".parse().unwrap()),
            )
            .unwrap();

        clock.set("2026-11-20T09:00:00Z".parse().unwrap());
        let mut ghost = not_found(9, "ghost@contoso.com");
        ghost.notes = vec!["See https://evil.example/x.js for details".into()];
        let plan = Plan {
            entries: vec![
                entry(2, Some(XSS_NAME), Decision::Convert, vec![]),
                entry(3, Some(QUOTES_NAME), Decision::Convert, vec![]),
                entry(4, Some(IMG_NAME), Decision::Convert, vec![]),
                entry(5, Some("Ünïcødé Ωmega"), Decision::Convert, vec![]),
                entry(6, Some("Still Running"), Decision::Convert, vec![]),
                entry(
                    7,
                    Some("Already Invited"),
                    Decision::Skip,
                    vec![reason(
                        ReasonCode::AlreadyInvited,
                        "The user already has a pending invitation; `b2b-convert reinvite` sends a fresh one.",
                    )],
                ),
                entry(
                    8,
                    Some("Mailbox Owner"),
                    Decision::Blocked,
                    vec![
                        reason(ReasonCode::HasMailbox, "The user has an Exchange mailbox."),
                        reason(
                            ReasonCode::EmailInUse,
                            "`<script>window.__xss=2</script>` already holds the address",
                        ),
                    ],
                ),
                ghost,
                not_found(10, "nobody@contoso.com"),
            ],
            findings: Vec::new(),
        };
        let run = journal
            .start_run(
                &new_run(
                    &options,
                    "users \"Q4\" <final>.csv",
                    "b2b-convert apply --input 'users \"Q4\" <final>.csv' --yes",
                ),
                &plan,
            )
            .unwrap();
        invite(&run.id, &plan.entries[0], None);
        invite(&run.id, &plan.entries[1], None);
        let step = journal
            .record_intent(&run.id, 4, "id-4", StepKind::Invite, &serde_json::json!({}))
            .unwrap();
        journal
            .record_outcome(
                step,
                StepResult::Failed,
                &StepOutcome {
                    http_status: Some(400),
                    error_code: Some("Request_BadRequest".into()),
                    error_message: Some("Invalid value '<b>x</b>'".into()),
                    request_id: Some("req-<failed>".into()),
                    detail: None,
                },
                None,
            )
            .unwrap();
        // Row 5: sent without email, so its link is the admin's to deliver.
        invite(&run.id, &plan.entries[3], Some(REDEEM_URL));
        // Row 6: the request went out and no answer was recorded (a crash, say).
        journal
            .record_intent(&run.id, 6, "id-6", StepKind::Invite, &serde_json::json!({}))
            .unwrap();

        clock.set("2026-11-20T09:04:10Z".parse().unwrap());
        journal
            .finish_entry(&run.id, 2, EntryOutcome::Converted, None)
            .unwrap();
        journal
            .finish_entry(&run.id, 3, EntryOutcome::Converted, None)
            .unwrap();
        journal
            .finish_entry(&run.id, 4, EntryOutcome::Failed, Some(&long_error()))
            .unwrap();
        journal
            .finish_entry(&run.id, 5, EntryOutcome::Unverified, None)
            .unwrap();
        journal.finish_run(&run.id).unwrap();
        // Row 2 read back as waiting, row 3 accepted; row 5 never read back.
        journal
            .record_state("id-2", Some(&InvitationState::PendingAcceptance), None)
            .unwrap();
        journal
            .record_state(
                "id-3",
                Some(&InvitationState::Accepted),
                Some("2026-11-22T15:30:00Z".parse().unwrap()),
            )
            .unwrap();

        let input = ReportInput::read(
            &journal,
            "b2b-convert report --journal run.db --html 'out&report.html'".to_owned(),
            "2026-11-24T13:00:00Z".parse().unwrap(),
        )
        .unwrap();
        Fixture { _dir: dir, input }
    }

    /// The tags in `html`, as (name, attribute text), skipping the inline script and
    /// stylesheet bodies. Every literal `<` outside those is markup, because data is
    /// escaped: so this is the page's whole tag vocabulary.
    fn tags(html: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let end = after.find('>').expect("unclosed tag");
            let tag = &after[..end];
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            let attrs = tag[name.len().min(tag.len())..].to_owned();
            rest = &after[end + 1..];
            for raw in ["script", "style"] {
                if name == raw {
                    let close = format!("</{raw}>");
                    let body_end = rest.find(&close).expect("unclosed raw text element");
                    rest = &rest[body_end..];
                }
            }
            out.push((name, attrs));
        }
        out
    }

    /// The page's text outside tags, with entities left as they are.
    fn text(html: &str) -> String {
        let body = &html[html.find("<body>").unwrap()..];
        let body = &body[..body.find("<script>").unwrap()];
        let mut out = String::new();
        let mut in_tag = false;
        for c in body.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// The part of the page for run `index` (0: the latest).
    fn panel(html: &str, index: usize) -> &str {
        let start = html
            .find(&format!("<section class=\"run\" id=\"run-{index}\""))
            .expect("panel");
        let end = html[start + 1..]
            .find("<section class=\"run\"")
            .map_or_else(|| html.find("<footer>").unwrap(), |e| start + 1 + e);
        &html[start..end]
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&#38;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;")
    }

    #[test]
    fn every_value_is_escaped() {
        let f = fixture();
        let html = render_html(&f.input);

        assert!(html.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;"));
        assert!(html.contains("Tom &#38; &#34;Jerry&#34; O&#39;Brien"));
        assert!(html.contains("&#34;&#62;&#60;img src=x onerror=&#34;window.__xss=1&#34;&#62;"));
        assert!(
            html.contains(
                "<code>&#60;script&#62;window.__xss=2&#60;/script&#62;</code> already holds"
            ),
            "a quoted value is code, and escaped"
        );
        assert!(html.contains("users &#34;Q4&#34; &#60;final&#62;.csv"));
        assert!(html.contains("Invalid value &#39;&#60;b&#62;x&#60;/b&#62;&#39; for property"));
        assert!(html.contains("request-id <span class=\"mono\">req-&#60;failed&#62;</span>"));
        assert!(html.contains("--html &#39;out&#38;report.html&#39;"));
        assert!(html.contains(&escape(REDEEM_URL)));
        assert!(html.contains("Ünïcødé Ωmega"));

        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("__xss=1\">"));

        let tags = tags(&html);
        let allowed = [
            "!doctype", "html", "head", "meta", "title", "style", "body", "main", "header", "nav",
            "h1", "h2", "h3", "p", "span", "strong", "dl", "dt", "dd", "section", "div", "figure",
            "svg", "text", "rect", "table", "caption", "colgroup", "col", "thead", "tbody", "tr",
            "th", "td", "label", "input", "select", "option", "ul", "li", "code", "pre", "details",
            "summary", "footer", "script", "wbr",
        ];
        for (name, attrs) in &tags {
            let bare = name.trim_start_matches('/');
            assert!(allowed.contains(&bare), "unexpected tag <{name}{attrs}>");
            let lower = attrs.to_ascii_lowercase();
            for bad in [
                " on",
                " src=",
                " href=",
                "xlink:",
                " action=",
                " formaction=",
                " srcset=",
                " style=",
            ] {
                assert!(!lower.contains(bad), "<{name}{attrs}> has {bad}");
            }
        }
        assert_eq!(tags.iter().filter(|(n, _)| n == "script").count(), 1);
        assert_eq!(tags.iter().filter(|(n, _)| n == "style").count(), 1);
    }

    #[test]
    fn nothing_is_loaded_from_outside() {
        let f = fixture();
        let html = render_html(&f.input);
        for asset in [STYLE, SCRIPT] {
            for bad in [
                "url(",
                "@import",
                "http:",
                "https:",
                "fetch(",
                "XMLHttpRequest",
                "innerHTML",
            ] {
                assert!(!asset.contains(bad), "inline asset contains {bad}");
            }
            // A `<` would let the asset end its own element early.
            assert!(!asset.contains('<'));
        }
        // Links found in data stay text: they appear, escaped, but never as attributes.
        assert!(html.contains("See https://evil.example/x.js for details"));
        assert!(html.contains("http://127.0.0.1:8443/v1.0/"));
        assert!(html.contains(&format!("https://teams.microsoft.com/?tenantId={TENANT}")));
        for (name, attrs) in tags(&html) {
            for bad in ["http:", "https:", "//", "data:"] {
                assert!(!attrs.contains(bad), "<{name}{attrs}> refers outside");
            }
        }

        let csp = html
            .split("http-equiv=\"Content-Security-Policy\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("CSP meta");
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        let body = |open: &str, close: &str| {
            let start = html.find(open).unwrap() + open.len();
            let end = start + html[start..].find(close).unwrap();
            html[start..end].to_owned()
        };
        assert!(csp.contains(&format!(
            "script-src '{}'",
            csp_hash(&body("<script>", "</script>"))
        )));
        assert!(csp.contains(&format!(
            "style-src '{}'",
            csp_hash(&body("<style>", "</style>"))
        )));
    }

    #[test]
    fn the_headline_and_counts_are_the_journals() {
        let f = fixture();
        let html = render_html(&f.input);
        let latest = panel(&html, 0);
        assert!(latest.contains(
            "<p class=\"headline\"><strong data-n=\"converted\">2</strong> of <strong data-n=\"total\">9</strong> users converted, <strong data-n=\"accepted\">1</strong> accepted</p>"
        ));
        for (key, n) in [
            ("decision-convert", 5),
            ("decision-skip", 1),
            ("decision-blocked", 3),
            ("outcome-converted", 2),
            ("outcome-failed", 1),
            ("outcome-unverified", 1),
            ("outcome-pending-outcome", 1),
            ("state-accepted", 1),
            ("state-pending", 1),
            ("state-unchecked", 1),
            ("reason-not_found", 2),
            ("reason-has_mailbox", 1),
            ("reason-email_in_use", 1),
            ("reason-already_invited", 1),
        ] {
            let cell = format!("data-count=\"{key}\">{n}</td>");
            assert!(latest.contains(&cell), "missing {cell}");
        }
        // The rest of the rows, in words, next to the headline.
        for words in [
            "<strong>3</strong> Blocked",
            "<strong>1</strong> Nothing to do",
            "<strong>1</strong> Failed",
            "<strong>1</strong> Not confirmed yet",
            "<strong>1</strong> Still to do",
        ] {
            assert!(latest.contains(words), "missing {words}");
        }
        assert!(latest.contains(
            "5 requests journaled: 3 succeeded, 1 failed, 0 settled by reading the user back (0 had taken effect), 1 without a recorded answer."
        ));

        let older = panel(&html, 1);
        assert!(older.contains(
            "<strong data-n=\"converted\">1</strong> of <strong data-n=\"total\">2</strong> users converted, <strong data-n=\"accepted\">1</strong> accepted"
        ));
        assert!(older.contains("data-count=\"reason-not_found\">1</td>"));
    }

    #[test]
    fn plain_words_only_no_graph_spelling_and_no_backticks() {
        let f = fixture();
        let html = render_html(&f.input);
        assert!(!html.contains("PendingAcceptance"));
        assert!(!html.contains('`'), "a literal backtick reached the page");
        let latest = panel(&html, 0);
        // The table and the counts say a state the same way.
        for (key, words) in [
            ("accepted", "Accepted"),
            ("pending", "Waiting for the partner"),
            ("unchecked", "Not checked yet"),
            ("none", "Not invited by this tool"),
        ] {
            assert!(
                latest.contains(&format!("<span class=\"badge b-{key}\">{words}</span>")),
                "table: {words}"
            );
            assert!(
                latest.contains(&format!("<option value=\"{key}\">{words}</option>")),
                "filter: {words}"
            );
        }
        assert!(latest.contains("<span class=\"dot k-pending\"></span>Waiting for the partner</th><td class=\"n\" data-count=\"state-pending\">1</td>"));
        assert!(latest.contains("<code>b2b-convert reinvite</code> sends a fresh one"));
        assert!(latest.contains("accepted 2026-11-22 15:30"));
        // Invited 2026-11-20 09:00, reported 2026-11-24 13:00: four whole days waiting.
        assert_eq!(latest.matches("waiting 4 days").count(), 2);
    }

    #[test]
    fn blocked_rows_are_grouped_and_the_advice_said_once() {
        let f = fixture();
        let html = render_html(&f.input);
        let latest = panel(&html, 0);
        let group = |code: &str| {
            let start = latest
                .find(&format!("<section class=\"group\" data-reason=\"{code}\">"))
                .unwrap_or_else(|| panic!("no group {code}"));
            let end = start + latest[start..].find("</section>").unwrap();
            &latest[start..end]
        };
        let not_found = group("not_found");
        assert!(not_found.contains(
            "<span class=\"title\">User not found</span> <span class=\"n\">2 rows</span>"
        ));
        assert_eq!(
            latest.matches(ADVICE).count(),
            1,
            "the planner's shared advice, once"
        );
        assert!(not_found.contains(ADVICE));
        assert!(not_found.contains("<strong>What to do:</strong> Check the spelling of the user"));
        assert!(not_found.contains(
            "No user has the object id, UPN or mail <code>ghost@contoso.com</code>.</td>"
        ));
        assert!(not_found.contains("<code>nobody@contoso.com</code>.</td>"));
        assert!(
            !not_found.contains(">Also</th>"),
            "no column for other reasons when no row has one"
        );
        // Two reasons: listed under both, each naming the other.
        assert!(group("has_mailbox").contains("Partner address already used by another account"));
        assert!(group("email_in_use").contains("Has an Exchange Online mailbox"));
        // Largest group first.
        assert!(
            latest.find("data-reason=\"not_found\"") < latest.find("data-reason=\"has_mailbox\"")
        );
        // Nothing-to-do rows are a group of their own, collapsed.
        assert!(latest.contains("<details class=\"skipped\">"));
        assert!(group("already_invited").contains("Already invited, waiting for the partner"));

        // A long error is clipped, the whole kept one click away.
        assert!(
            latest.contains("<details class=\"more\"><summary><span class=\"short\">invite: 400")
        );
        assert_eq!(latest.matches(&escape(&long_error())).count(), 1);
    }

    #[test]
    fn links_to_deliver_and_the_teams_link_are_listed() {
        let f = fixture();
        let html = render_html(&f.input);
        let latest = panel(&html, 0);
        let start = latest.find("<section class=\"deliver\"").unwrap();
        let deliver = &latest[start..start + latest[start..].find("</section>").unwrap()];
        assert!(deliver.contains(&format!(
            "<code class=\"url\">https://teams.microsoft.com/?tenantId={TENANT}</code>"
        )));
        assert!(deliver.contains("1 invitation was sent without email"));
        assert!(
            deliver.contains("<tr data-row=\"5\"><td class=\"num\">5</td><td>Ünïcødé Ωmega</td>")
        );
        assert!(deliver.contains(&format!(
            "<code class=\"url\">{}</code>",
            escape(REDEEM_URL)
        )));
        assert!(latest.contains("Link to deliver: see Links for partners"));
        // The older run's only invitation went by email and is accepted: nothing to send.
        assert!(panel(&html, 1).contains("No invitation of this run is waiting"));
    }

    #[test]
    fn every_run_is_covered_and_the_latest_comes_first() {
        let f = fixture();
        let html = render_html(&f.input);
        assert_eq!(html.matches("<section class=\"run\"").count(), 2);
        assert!(html.find("id=\"run-0\"") < html.find("id=\"run-1\""));
        assert!(panel(&html, 0).contains(&f.input.runs[0].run.id));
        assert!(panel(&html, 0).contains("users &#34;Q4&#34;"));
        assert!(panel(&html, 1).contains("first.csv"));
        assert!(html.contains(
            "<option value=\"0\">2026-11-20 09:00 UTC · Finished · 9 rows (latest)</option>"
        ));
        assert!(
            html.contains("<option value=\"1\">2026-11-10 08:00 UTC · Finished · 2 rows</option>")
        );
        // Without script every panel shows; the picker appears when the script runs.
        assert!(html.contains("<nav class=\"picker\" id=\"picker\" aria-label=\"Runs\" hidden>"));
        assert!(!panel(&html, 1).starts_with("<section class=\"run\" id=\"run-1\" hidden"));
        assert!(html.contains(&format!(
            "<pre><code>{}</code></pre>",
            escape(&f.input.command)
        )));
        for run in &f.input.runs {
            assert!(html.contains(&format!(
                "<pre><code>{}</code></pre>",
                escape(&run.run.command)
            )));
        }
        let text = text(&html);
        assert!(text.contains("Run of 2026-11-20 09:00:00 UTC"));
        assert!(text.contains("Run of 2026-11-10 08:00:00 UTC"));
    }

    #[test]
    fn main_tags_are_balanced() {
        let f = fixture();
        let html = render_html(&f.input);
        let tags = tags(&html);
        for name in [
            "html", "head", "body", "main", "header", "nav", "section", "table", "thead", "tbody",
            "tr", "td", "th", "svg", "figure", "ul", "li", "pre", "select", "div", "span", "dl",
            "details", "summary", "script", "style", "title", "rect", "colgroup", "strong",
        ] {
            let open = tags.iter().filter(|(n, _)| n == name).count();
            let close = tags
                .iter()
                .filter(|(n, _)| *n == format!("/{name}"))
                .count();
            assert_eq!(
                open, close,
                "<{name}> opened {open} times, closed {close} times"
            );
            assert!(open > 0, "no <{name}>");
        }
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn an_empty_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new("2026-11-10T08:00:00Z".parse().unwrap()));
        let journal = Journal::open(&dir.path().join("run.db"), clock).unwrap();
        let error =
            ReportInput::read(&journal, String::new(), jiff::Timestamp::UNIX_EPOCH).unwrap_err();
        assert!(error.to_string().contains("holds no run"), "{error}");
    }

    #[test]
    fn write_is_atomic_and_leaves_no_temporary_file() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        fs::write(&path, "old").unwrap();
        write_html(&f.input, &path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), render_html(&f.input));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.html")]);

        let missing = dir.path().join("no-such-dir").join("report.html");
        assert!(write_html(&f.input, &missing).is_err());
        assert!(write_html(&f.input, Path::new("/")).is_err());
    }

    #[cfg(feature = "testkit")]
    #[test]
    fn expectations_match_the_fixture() {
        let f = fixture();
        let expected = browser_expectations(&f.input);
        let latest = &expected["runs"][0];
        assert_eq!(latest["headline"], "2 of 9 users converted, 1 accepted");
        assert_eq!(latest["rows"], 9);
        assert_eq!(latest["decisions"]["convert"], 5);
        assert_eq!(latest["states"]["pending"], 1);
        assert_eq!(latest["states"]["unchecked"], 1);
        assert_eq!(latest["states"]["none"], 6);
        assert_eq!(latest["reasons"]["not_found"], 2);
        assert_eq!(latest["links"], 1);
        let texts = latest["visible_texts"].as_array().unwrap();
        assert!(texts.contains(&serde_json::json!(XSS_NAME)));
        assert_eq!(
            expected["runs"][1]["headline"],
            "1 of 2 users converted, 1 accepted"
        );
        assert!(browser_check_script().is_file());
    }

    /// Writes `/tmp/sample-report.html` and `/tmp/sample-report.json` (or to the
    /// directory in `REPORT_SAMPLE_DIR`) for the browser check and a screenshot.
    #[cfg(feature = "testkit")]
    #[test]
    #[ignore = "writes a sample report for manual and browser checks"]
    fn write_sample_report() {
        let f = fixture();
        let dir = std::env::var_os("REPORT_SAMPLE_DIR").map_or_else(
            || std::path::PathBuf::from("/tmp"),
            std::path::PathBuf::from,
        );
        write_html(&f.input, &dir.join("sample-report.html")).unwrap();
        fs::write(
            dir.join("sample-report.json"),
            serde_json::to_string_pretty(&browser_expectations(&f.input)).unwrap(),
        )
        .unwrap();
    }
}
