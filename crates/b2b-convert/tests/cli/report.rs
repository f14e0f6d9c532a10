//! `report`: one self-contained page covering every run of the journal, in plain words,
//! every value escaped; checked in headless Chromium when the browser test environment
//! is present (CI requires it).

use std::sync::Arc;

use b2b_convert_core::clock::SystemClock;
use b2b_convert_core::journal::Journal;
use b2b_convert_core::report::{ReportInput, browser_check_script, browser_expectations};
use graph_emulator::simulation::SimulationOverrides;
use serde_json::Value;

use crate::support::{DEMO_INPUT, DEMO_TENANT_ID, TestTenant, demo_user, stderr};

const HOSTILE_NAME: &str = "<script>window.__xss=1;alert('x')</script>";

/// A display name with no place to break: the page must wrap it, not scroll sideways.
fn unbroken_name() -> String {
    format!("Ben{}Walters", "Bartholomew".repeat(12))
}

fn hostile_demo() -> TestTenant {
    let mut tenant: Value = serde_json::from_str(include_str!("../../../../tenants/demo.json"))
        .expect("demo tenant JSON");
    let users = tenant["users"].as_array_mut().expect("users");
    users[0]["displayName"] = Value::String(HOSTILE_NAME.into());
    users[1]["displayName"] = Value::String(unbroken_name());
    TestTenant::from_json(&tenant.to_string(), SimulationOverrides::default())
}

/// Two runs, then acceptances read back: the first run converts the demo's first five
/// users (Emily's invitation goes without email, so her link is the admin's to deliver),
/// the second the whole demo, where those five have nothing left to do.
fn two_runs() -> TestTenant {
    let tenant = hostile_demo();
    let first: String = DEMO_INPUT
        .lines()
        .take(6)
        .map(|line| format!("{line}\n"))
        .collect();
    let apply = tenant.apply(&first, &[]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let apply = tenant.apply(DEMO_INPUT, &[]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    for nn in [1, 2, 6] {
        tenant.redeem(&demo_user(nn));
    }
    let refresh = tenant
        .cmd(&["status", "--journal", "run.db", "--refresh"])
        .output()
        .expect("runs");
    assert!(refresh.status.success(), "{}", stderr(&refresh));
    tenant
}

#[test]
fn report_covers_every_run_in_plain_words_escaped_and_works_in_a_browser() {
    let tenant = two_runs();
    let output = tenant
        .cmd(&["report", "--journal", "run.db", "--html", "report.html"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("(2 runs)"), "{}", stderr(&output));
    let path = tenant.dir.path().join("report.html");
    let html = std::fs::read_to_string(&path).expect("report written");

    // Escaped, self-contained.
    assert!(
        !html.contains(HOSTILE_NAME),
        "raw markup from the tenant in the page"
    );
    assert!(
        html.contains("&#60;script&#62;window.__xss=1;")
            || html.contains("&lt;script&gt;window.__xss=1;"),
        "escaped name missing"
    );
    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "@import",
        "<link",
    ] {
        assert!(!html.contains(attr), "external asset ({attr})");
    }

    // The headlines, from what the journal says: the latest run first.
    let headline = |converted: usize, total: usize, accepted: usize| {
        format!(
            "<strong data-n=\"converted\">{converted}</strong> of <strong data-n=\"total\">{total}</strong> users converted, <strong data-n=\"accepted\">{accepted}</strong> accepted"
        )
    };
    let latest = html
        .find(&headline(2, 30, 1))
        .expect("the latest run's headline");
    let older = html
        .find(&headline(5, 5, 2))
        .expect("the first run's headline");
    assert!(latest < older, "the latest run comes first");

    // Plain words, no Graph spelling, no backticks from the planner's messages.
    assert!(!html.contains("PendingAcceptance"));
    assert!(!html.contains('`'));
    for words in [
        "Waiting for the partner",
        "Already invited, waiting for the partner",
        "User not found",
        "<code>b2b-convert reinvite --user",
    ] {
        assert!(html.contains(words), "missing {words}");
    }
    // Emily's invitation went without email: her link is listed in both runs' panels.
    assert_eq!(html.matches("invitation was sent without email").count(), 2);
    assert!(html.contains(&format!(
        "https://teams.microsoft.com/?tenantId={DEMO_TENANT_ID}"
    )));
    assert!(
        html.contains("b2b-convert apply --input users.csv"),
        "the producing command is shown"
    );
    assert!(html.contains("report --journal run.db --html report.html"));

    browser_check(&tenant, &path);
}

#[test]
fn report_on_a_journal_without_runs_says_so() {
    let tenant = TestTenant::demo();
    let empty = tenant.dir.path().join("empty.db");
    drop(Journal::open(&empty, Arc::new(SystemClock)).expect("journal"));
    let output = tenant
        .cmd(&["report", "--journal", "empty.db", "--html", "report.html"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("holds no run yet"),
        "{}",
        stderr(&output)
    );
    assert!(!tenant.dir.path().join("report.html").exists());
}

/// Runs the report's browser check (headless Chromium via selenium) when the test
/// environment has it; CI sets B2B_REQUIRE_EXTERNAL_TESTS=1 so it can't silently skip.
fn browser_check(tenant: &TestTenant, report: &std::path::Path) {
    // What the page must show, counted from the journal the report was made from.
    let journal =
        Journal::open(&tenant.dir.path().join("run.db"), Arc::new(SystemClock)).expect("journal");
    let input = ReportInput::read(&journal, String::new(), jiff::Timestamp::now()).expect("read");
    let expected = browser_expectations(&input);
    assert_eq!(
        expected["runs"][0]["headline"],
        "2 of 30 users converted, 1 accepted"
    );
    assert_eq!(
        expected["runs"][1]["headline"],
        "5 of 5 users converted, 2 accepted"
    );
    // The five the first run invited, and the demo's own user already invited.
    assert_eq!(expected["runs"][0]["reasons"]["already_invited"], 6);
    assert_eq!(expected["runs"][0]["links"], 1);

    let python = std::env::var("B2B_TEST_PYTHON").ok();
    let required = std::env::var("B2B_REQUIRE_EXTERNAL_TESTS").is_ok_and(|v| v == "1");
    let Some(python) = python else {
        assert!(
            !required,
            "B2B_TEST_PYTHON is not set but external tests are required"
        );
        eprintln!(
            "skipped: the report's browser check (set B2B_TEST_PYTHON to a Python with selenium)"
        );
        return;
    };
    let expected = tenant.write("expected.json", &expected.to_string());
    let output = std::process::Command::new(python)
        .arg(browser_check_script())
        .arg(report)
        .arg(expected)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Shown with --nocapture: which checks ran, so a green run proves the browser did.
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains(", 0 failed"),
        "browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
