//! The HTML run report: one self-contained page an admin can open, print or mail, showing
//! what a run decided, what it did, and who has accepted their invitation since.
//!
//! The page loads nothing from the network. Its stylesheet and its small filtering script
//! are inline and allowed by hash in a `Content-Security-Policy` that forbids everything
//! else, so even a display name that slipped through unescaped could not run script or
//! fetch anything. The first line of defence is still escaping: the page is an askama
//! template, which escapes every interpolated value (`<`, `>`, `&`, `"`, `'`) in text and
//! in attributes alike; only the two constant assets are marked safe. No value from the
//! tenant or the input is ever put inside the script: it reads the table from the DOM.

//!
//! One job per file: [`view`](self) turns journal records into the page's view model,
//! `file` writes the page safely, and (with the `testkit` feature only) `browser` tells
//! the end-to-end browser test what the page must show.

#[cfg(feature = "testkit")]
mod browser;
mod file;
mod view;

use askama::Template;
use jiff::Timestamp;

use crate::journal::{EntryRecord, InvitationRecord, RunRecord, StepRecord};

#[cfg(feature = "testkit")]
pub use browser::{browser_check_script, browser_expectations};
pub use file::write_html;

/// Everything the report shows, as read from the journal by the caller.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The run reported on.
    pub run: &'a RunRecord,
    /// The run's entries, in input order.
    pub entries: &'a [EntryRecord],
    /// The run's steps (all rows).
    pub steps: &'a [StepRecord],
    /// The journal's invitations; those of this run's users are matched by user id.
    pub invitations: &'a [InvitationRecord],
    /// The exact command lines that produced the run and this report, shown verbatim.
    pub commands: &'a [String],
    /// When the report is made: the reference for pending ages.
    pub generated_at: Timestamp,
}

/// Renders the report page.
pub fn render_html(input: &ReportInput<'_>) -> String {
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
    use crate::vocabulary::EntryOutcome;

    const XSS_NAME: &str = "<script>alert(\"x\")</script>";
    const QUOTES_NAME: &str = "Tom & \"Jerry\" O'Brien";
    const IMG_NAME: &str = "\"><img src=x onerror=\"window.__xss=1\">";

    /// A run read back from a journal, owning what [`ReportInput`] borrows.
    struct Fixture {
        _dir: tempfile::TempDir,
        run: RunRecord,
        entries: Vec<EntryRecord>,
        steps: Vec<StepRecord>,
        invitations: Vec<InvitationRecord>,
        commands: Vec<String>,
    }

    impl Fixture {
        fn input(&self) -> ReportInput<'_> {
            ReportInput {
                run: &self.run,
                entries: &self.entries,
                steps: &self.steps,
                invitations: &self.invitations,
                commands: &self.commands,
                generated_at: "2026-11-24T13:00:00Z".parse().unwrap(),
            }
        }
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
        }
    }

    fn reason(code: ReasonCode, message: &str) -> Reason {
        Reason {
            code,
            message: message.to_owned(),
        }
    }

    /// A journal with every decision, every outcome, both invitation states, a step
    /// without an answer, and names and messages full of markup.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new("2026-11-20T09:00:00Z".parse().unwrap()));
        let journal = Journal::open(&dir.path().join("run.db"), clock.clone()).unwrap();
        let mut not_found = entry(
            9,
            None,
            Decision::Blocked,
            vec![reason(
                ReasonCode::NotFound,
                "No user matches 'ghost@contoso.com'",
            )],
        );
        not_found.user = "ghost@contoso.com".into();
        not_found.notes = vec!["See https://evil.example/x.js for details".into()];
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
                        "The user already has a pending invitation",
                    )],
                ),
                entry(
                    8,
                    Some("Mailbox Owner"),
                    Decision::Blocked,
                    vec![
                        reason(ReasonCode::HasMailbox, "The user has an Exchange mailbox"),
                        reason(
                            ReasonCode::EmailInUse,
                            "'<script>window.__xss=2</script>' already holds the address",
                        ),
                    ],
                ),
                not_found,
            ],
        };
        let options = PlanOptions::new("t");
        let run = journal
            .start_run(
                &NewRun {
                    input_path: "users \"Q4\" <final>.csv",
                    input_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    tenant_id: "00000000-0000-4000-8000-00000000000t",
                    graph_root: "http://127.0.0.1:8443/v1.0/",
                    command: "b2b-convert apply --input 'users \"Q4\" <final>.csv' --yes",
                    options: &options,
                },
                &plan,
            )
            .unwrap();
        let invite = |row: usize, result: StepResult, outcome: StepOutcome| {
            let e = &plan.entries[row];
            let user_id = e.user_id.as_deref().unwrap();
            let step = journal
                .record_intent(
                    &run.id,
                    e.row,
                    user_id,
                    StepKind::Invite,
                    &serde_json::json!({"invitedUserEmailAddress": e.external_email}),
                )
                .unwrap();
            let invited = Invited {
                run_id: &run.id,
                entry: e,
                user_id,
                redeem_url: None,
            };
            journal
                .record_outcome(step, result, &outcome, result.is_done().then_some(&invited))
                .unwrap();
        };
        let ok = || StepOutcome {
            http_status: Some(201),
            request_id: Some("req-ok".into()),
            ..Default::default()
        };
        invite(0, StepResult::Ok, ok());
        invite(1, StepResult::Ok, ok());
        invite(
            2,
            StepResult::Failed,
            StepOutcome {
                http_status: Some(400),
                error_code: Some("Request_BadRequest".into()),
                error_message: Some("Invalid value '<b>x</b>'".into()),
                request_id: Some("req-<failed>".into()),
                detail: None,
            },
        );
        invite(3, StepResult::Ok, ok());
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
            .finish_entry(
                &run.id,
                4,
                EntryOutcome::Failed,
                Some("invite: 400 Request_BadRequest: Invalid value '<b>x</b>' for property \"mail\""),
            )
            .unwrap();
        journal
            .finish_entry(&run.id, 5, EntryOutcome::Unverified, None)
            .unwrap();
        journal.finish_run(&run.id).unwrap();
        journal
            .record_state(
                "id-3",
                Some(&crate::vocabulary::InvitationState::Accepted),
                Some("2026-11-22T15:30:00Z".parse().unwrap()),
            )
            .unwrap();

        let run = journal.latest_run().unwrap().unwrap();
        Fixture {
            entries: journal.entries(&run.id).unwrap(),
            steps: journal.steps(&run.id, None).unwrap(),
            invitations: journal.invitations().unwrap(),
            commands: vec![
                run.command.clone(),
                "b2b-convert report --journal run.db --html 'out&report.html'".to_owned(),
            ],
            run,
            _dir: dir,
        }
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

    #[test]
    fn every_value_is_escaped() {
        let f = fixture();
        let html = render_html(&f.input());

        assert!(html.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;"));
        assert!(html.contains("Tom &#38; &#34;Jerry&#34; O&#39;Brien"));
        assert!(html.contains("&#34;&#62;&#60;img src=x onerror=&#34;window.__xss=1&#34;&#62;"));
        assert!(
            html.contains(
                "&#39;&#60;script&#62;window.__xss=2&#60;/script&#62;&#39; already holds"
            )
        );
        assert!(html.contains("users &#34;Q4&#34; &#60;final&#62;.csv"));
        assert!(html.contains(
            "Invalid value &#39;&#60;b&#62;x&#60;/b&#62;&#39; for property &#34;mail&#34;"
        ));
        assert!(html.contains("request-id req-&#60;failed&#62;"));
        assert!(html.contains("--html &#39;out&#38;report.html&#39;"));
        assert!(html.contains("Ünïcødé Ωmega"));

        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("__xss=1\">"));

        let tags = tags(&html);
        let allowed = [
            "!doctype", "html", "head", "meta", "title", "style", "body", "main", "header", "h1",
            "h2", "h3", "p", "span", "dl", "dt", "dd", "section", "div", "figure", "svg", "text",
            "rect", "table", "caption", "thead", "tbody", "tr", "th", "td", "label", "input",
            "select", "option", "ul", "li", "code", "pre", "footer", "script", "wbr",
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
        let html = render_html(&f.input());
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
    fn header_counts_and_rows_are_shown() {
        let f = fixture();
        let html = render_html(&f.input());
        assert!(html.contains("00000000-0000-4000-8000-00000000000t"));
        assert!(html.contains(&f.run.id));
        assert!(html.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
        assert!(html.contains("2026-11-20 09:00:00 UTC"));
        assert!(html.contains("2026-11-20 09:04:10 UTC"));
        assert!(html.contains("<span class=\"badge b-finished\">finished</span>"));

        for (key, n) in [
            ("convert", 5),
            ("skip", 1),
            ("blocked", 2),
            ("converted", 2),
            ("failed", 1),
            ("unverified", 1),
            ("pending-outcome", 1),
            ("accepted", 1),
            ("pendingacceptance", 2),
        ] {
            let cell = format!("data-count=\"{key}\">{n}</td>");
            assert!(html.contains(&cell), "missing {cell}");
        }
        assert_eq!(html.matches("<svg class=\"bars\"").count(), 3);
        assert!(html.contains("5 steps journaled: 3 ok, 1 failed, 0 reconciled as done, 0 reconciled as not done, 1 without a recorded answer."));

        assert_eq!(html.matches("<tr data-row=").count(), 8);
        assert!(html.contains("data-row=\"3\" data-decision=\"convert\" data-state=\"Accepted\""));
        assert!(
            html.contains(
                "data-row=\"2\" data-decision=\"convert\" data-state=\"PendingAcceptance\""
            )
        );
        assert!(html.contains("data-row=\"7\" data-decision=\"skip\" data-state=\"none\""));
        assert!(html.contains("data-row=\"9\" data-decision=\"blocked\" data-state=\"none\""));
        // Invited 2026-11-20 09:00, reported 2026-11-24 13:00: four whole days pending.
        assert_eq!(
            html.matches("<td class=\"num\">4</td>").count(),
            3,
            "row 4 and two pending ages"
        );
        assert!(html.contains(
            "<td class=\"when\"><span class=\"nw\">2026-11-22</span> <span class=\"nw\">15:30</span></td>"
        ));
        assert!(html.contains("<code>has_mailbox</code> The user has an Exchange mailbox"));
        assert!(html.contains("1 step(s) without a recorded answer"));
        assert!(
            html.contains(">ghost<wbr>@contoso.com</span>"),
            "the input reference stands in for a missing UPN"
        );

        assert!(html.contains("<input id=\"filter\""));
        assert!(html.contains("<select id=\"decision\">"));
        assert!(html.contains("<select id=\"state\">"));
        for command in &f.commands {
            assert!(html.contains(&format!("<pre><code>{}</code></pre>", escape(command))));
        }
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&#38;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;")
    }

    #[test]
    fn main_tags_are_balanced() {
        let f = fixture();
        let html = render_html(&f.input());
        let tags = tags(&html);
        for name in [
            "html", "head", "body", "main", "header", "section", "table", "thead", "tbody", "tr",
            "td", "th", "svg", "figure", "ul", "li", "pre", "select", "div", "span", "dl",
            "script", "style", "title", "text", "rect",
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
    fn write_is_atomic_and_leaves_no_temporary_file() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        fs::write(&path, "old").unwrap();
        write_html(&f.input(), &path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), render_html(&f.input()));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.html")]);

        let missing = dir.path().join("no-such-dir").join("report.html");
        assert!(write_html(&f.input(), &missing).is_err());
        assert!(write_html(&f.input(), Path::new("/")).is_err());
    }

    #[cfg(feature = "testkit")]
    #[test]
    fn expectations_match_the_fixture() {
        let f = fixture();
        let expected = browser_expectations(&f.input());
        assert_eq!(expected["rows"], 8);
        assert_eq!(expected["decisions"]["convert"], 5);
        assert_eq!(expected["states"]["PendingAcceptance"], 2);
        assert_eq!(expected["states"]["none"], 5);
        let texts = expected["visible_texts"].as_array().unwrap();
        assert!(texts.contains(&serde_json::json!(XSS_NAME)));
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
        write_html(&f.input(), &dir.join("sample-report.html")).unwrap();
        fs::write(
            dir.join("sample-report.json"),
            serde_json::to_string_pretty(&browser_expectations(&f.input())).unwrap(),
        )
        .unwrap();
    }
}
