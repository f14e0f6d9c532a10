//! `report`: one self-contained HTML page, every value escaped; checked in headless
//! Chromium when the browser test environment is present (CI requires it).

use std::sync::Arc;

use b2b_convert_core::clock::SystemClock;
use b2b_convert_core::journal::Journal;
use b2b_convert_core::report::{ReportInput, browser_check_script, browser_expectations};
use graph_emulator::simulation::SimulationOverrides;
use serde_json::Value;

use crate::support::{DEMO_INPUT, TestTenant, stderr};

const HOSTILE_NAME: &str = "<script>window.__xss=1;alert('x')</script>";

fn hostile_demo() -> TestTenant {
    let mut tenant: Value = serde_json::from_str(include_str!("../../../../tenants/demo.json"))
        .expect("demo tenant JSON");
    let users = tenant["users"].as_array_mut().expect("users");
    users[0]["displayName"] = Value::String(HOSTILE_NAME.into());
    TestTenant::from_json(&tenant.to_string(), SimulationOverrides::default())
}

#[test]
fn report_is_self_contained_escaped_and_works_in_a_browser() {
    let tenant = hostile_demo();
    let apply = tenant.apply(DEMO_INPUT, &[]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let output = tenant
        .cmd(&["report", "--journal", "run.db", "--html", "report.html"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let path = tenant.dir.path().join("report.html");
    let html = std::fs::read_to_string(&path).expect("report written");
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
    ] {
        assert!(!html.contains(attr), "external asset ({attr})");
    }
    assert!(
        html.contains("b2b-convert apply --input users.csv"),
        "the producing command is shown"
    );

    browser_check(&tenant, &path, 24);
}

/// Runs the report's browser check (headless Chromium via selenium) when the test
/// environment has it; CI sets B2B_REQUIRE_EXTERNAL_TESTS=1 so it can't silently skip.
fn browser_check(tenant: &TestTenant, report: &std::path::Path, rows: usize) {
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
    // What the page must show, computed from the journal the report was made from.
    let journal =
        Journal::open(&tenant.dir.path().join("run.db"), Arc::new(SystemClock)).expect("journal");
    let run = journal.latest_run().expect("read").expect("a run");
    let (entries, steps, invitations) = (
        journal.entries(&run.id).expect("entries"),
        journal.steps(&run.id, None).expect("steps"),
        journal.invitations().expect("invitations"),
    );
    assert_eq!(entries.len(), rows);
    let input = ReportInput {
        run: &run,
        entries: &entries,
        steps: &steps,
        invitations: &invitations,
        commands: &[],
        generated_at: jiff::Timestamp::now(),
    };
    let expected = tenant.write("expected.json", &browser_expectations(&input).to_string());
    let output = std::process::Command::new(python)
        .arg(browser_check_script())
        .arg(report)
        .arg(expected)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(", 0 failed"),
        "browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
