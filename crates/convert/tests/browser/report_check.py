#!/usr/bin/env python3
"""Browser check for the b2b-convert HTML run report.

Usage: python3 report_check.py REPORT.html EXPECTED.json

Loads the report from file:// in headless Chromium (through chromedriver and Python's
`selenium`) and checks that it renders, that its inline script runs under the page's
Content-Security-Policy, that the filter box and the decision and invitation selects
hide exactly the rows that don't match, and that display names full of markup show as
text and never run. Prints one line per check, then
`report check: N passed, M failed`; exits 0 when all pass, 1 when any fails, 2 when
the browser can't be started or the arguments are wrong.

EXPECTED.json (what `b2b_convert_core::report::browser_expectations` writes); only
"rows" is required:
  {
    "rows": 8,                                   # rows in the users table
    "title_contains": "b2b-convert run report",
    "decisions": {"convert": 5, "skip": 1, "blocked": 2},
    "states": {"Accepted": 1, "PendingAcceptance": 2, "other": 0, "none": 5},
    "visible_texts": ["<script>alert(\"x\")</script>"],  # must show as cell text
    "filter": {"text": "fabrikam", "visible": 8}        # else one is picked from the page
  }

Environment: CHROMIUM (default /usr/bin/chromium), CHROMEDRIVER (default
/usr/bin/chromedriver). Selenium Manager is kept offline: nothing is downloaded.
"""

import json
import os
import pathlib
import shutil
import sys
import tempfile

os.environ.setdefault("SE_OFFLINE", "true")

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
except ImportError as e:  # pragma: no cover - setup problem, not a report problem
    print(f"report check: cannot import selenium ({e}); pip install selenium", file=sys.stderr)
    sys.exit(2)

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]

# Installed before any page script runs (CDP), outside the page's CSP. Dialogs are
# recorded instead of shown, and every CSP violation is kept: the page's own assets must
# cause none, and an injected payload would show up here even though CSP blocked it.
HOOKS = r"""
window.__dialogs = [];
['alert', 'confirm', 'prompt'].forEach(function (name) {
  window[name] = function (message) { window.__dialogs.push(name + ': ' + String(message)); };
});
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
}, true);
"""

# Row number, data attributes, text and whether it is rendered, for every table row.
ROWS_JS = r"""
return Array.prototype.map.call(document.querySelectorAll('#users tbody tr'), function (tr) {
  return {
    row: tr.getAttribute('data-row'),
    decision: tr.getAttribute('data-decision'),
    state: tr.getAttribute('data-state'),
    text: tr.textContent,
    visible: tr.getClientRects().length > 0
  };
});
"""

DECISIONS = ["convert", "skip", "blocked"]
STATES = ["Accepted", "PendingAcceptance", "other", "none"]


class Checks:
    """Collects named pass/fail results and prints them as they come."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return ok


def start_browser(profile):
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOKS})
    return driver


def rows(driver):
    return driver.execute_script(ROWS_JS)


def visible_rows(driver):
    return [r["row"] for r in rows(driver) if r["visible"]]


def shown_count(driver):
    return driver.find_element(By.ID, "shown").text.strip()


def type_filter(driver, text):
    box = driver.find_element(By.ID, "filter")
    # Select-all + delete fires `input` the way a person clearing the box does.
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)


def run_checks(driver, report, expected, checks):
    driver.get(report.resolve().as_uri())
    total = int(expected["rows"])

    title = driver.title
    want_title = expected.get("title_contains", "b2b-convert")
    checks.check("title", want_title in title, f"title is {title!r}")

    svgs = driver.find_elements(By.CSS_SELECTOR, "svg.bars")
    checks.check(
        "chart svg present",
        len(svgs) >= 1 and all(s.is_displayed() for s in svgs)
        and all(len(s.find_elements(By.TAG_NAME, "rect")) > 0 for s in svgs),
        f"{len(svgs)} charts",
    )
    counts_text = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "td[data-count]")]
    checks.check("chart numbers shown as text", len(counts_text) > 0 and all(t.isdigit() for t in counts_text), str(counts_text))

    controls = driver.find_element(By.ID, "controls")
    checks.check("inline script ran under the CSP (filters shown)", controls.is_displayed())

    all_rows = rows(driver)
    checks.check("table rows = expected", len(all_rows) == total, f"{len(all_rows)} rows, expected {total}")
    checks.check("all rows visible at first", all(r["visible"] for r in all_rows) and shown_count(driver) == str(total),
                 f"shown {shown_count(driver)}")
    checks.check(
        "rows carry data-decision and data-state",
        all(r["decision"] in DECISIONS and r["state"] in STATES for r in all_rows),
        str([(r["row"], r["decision"], r["state"]) for r in all_rows if r["decision"] not in DECISIONS or r["state"] not in STATES]),
    )
    for key, values, attr in (("decisions", DECISIONS, "decision"), ("states", STATES, "state")):
        if key in expected:
            got = {v: sum(1 for r in all_rows if r[attr] == v) for v in values}
            want = {v: int(expected[key].get(v, 0)) for v in values}
            checks.check(f"rows per {attr} = expected", got == want, f"got {got}, expected {want}")

    # Markup in names must be text: shown verbatim, never parsed into elements.
    cell_texts = driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#users tbody td'), function (td) { return td.innerText; });"
    )
    for text in expected.get("visible_texts", []):
        checks.check(f"shown as text: {text!r}", any(text in c for c in cell_texts))
    checks.check("no <img> or extra <script> in the page",
                 driver.execute_script("return document.images.length === 0 && document.scripts.length === 1;"))

    # Filter box: exactly the rows whose text contains the filter stay visible.
    texts = [t for t in expected.get("visible_texts", []) if t]
    probe = expected.get("filter", {}).get("text")
    if not probe:
        probe = texts[0] if texts else all_rows[len(all_rows) // 2]["text"].split()[1] if all_rows else "x"
    type_filter(driver, probe)
    want = sorted(r["row"] for r in all_rows if probe.lower() in r["text"].lower())
    got = sorted(visible_rows(driver))
    checks.check(f"filter {probe!r} keeps only matching rows", got == want and len(got) > 0, f"visible {got}, matching {want}")
    if "visible" in expected.get("filter", {}):
        checks.check("filter visible count = expected", len(got) == int(expected["filter"]["visible"]), f"{len(got)}")
    checks.check("shown count follows the filter", shown_count(driver) == str(len(want)), shown_count(driver))

    type_filter(driver, "zz-no-such-row-zz")
    checks.check("filter with no match hides every row", visible_rows(driver) == []
                 and driver.find_element(By.ID, "no-match").is_displayed())
    type_filter(driver, "")
    checks.check("clearing the filter shows every row", len(visible_rows(driver)) == total)

    # Selects: each option keeps exactly the rows with that attribute.
    for select_id, values, attr in (("decision", DECISIONS, "decision"), ("state", STATES, "state")):
        select = Select(driver.find_element(By.ID, select_id))
        for value in values:
            select.select_by_value(value)
            want = sorted(r["row"] for r in all_rows if r[attr] == value)
            got = sorted(visible_rows(driver))
            checks.check(f"{select_id} select {value!r}", got == want, f"visible {got}, expected {want}")
        select.select_by_value("")
    checks.check("selects reset show every row", len(visible_rows(driver)) == total)

    # Both together: a select narrows what the filter already narrowed.
    if all_rows:
        first = all_rows[0]
        Select(driver.find_element(By.ID, "decision")).select_by_value(first["decision"])
        type_filter(driver, first["row"])
        want = sorted(r["row"] for r in all_rows if r["decision"] == first["decision"] and first["row"] in r["text"])
        got = sorted(visible_rows(driver))
        checks.check("filter and select combine", got == want and first["row"] in got, f"visible {got}, expected {want}")
        type_filter(driver, "")
        Select(driver.find_element(By.ID, "decision")).select_by_value("")

    # Nothing ran that shouldn't have, nothing was blocked, nothing was fetched.
    dialogs = driver.execute_script("return window.__dialogs;")
    checks.check("no alert fired", dialogs == [], str(dialogs))
    try:
        alert = driver.switch_to.alert
        checks.check("no alert open", False, alert.text)
    except NoAlertPresentException:
        checks.check("no alert open", True)
    checks.check("window.__xss unset", driver.execute_script("return typeof window.__xss === 'undefined';"))
    violations = driver.execute_script("return window.__csp;")
    checks.check("no CSP violation", violations == [], str(violations))
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; });")
    checks.check("nothing loaded besides the page", resources == [], str(resources))


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    report = pathlib.Path(argv[1])
    if not report.is_file():
        print(f"report check: {report}: no such file", file=sys.stderr)
        return 2
    try:
        expected = json.loads(pathlib.Path(argv[2]).read_text(encoding="utf-8"))
        int(expected["rows"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"report check: {argv[2]}: unreadable expectations ({e})", file=sys.stderr)
        return 2

    profile = tempfile.mkdtemp(prefix="report-check-")
    checks = Checks()
    try:
        try:
            driver = start_browser(profile)
        except WebDriverException as e:
            print(f"report check: cannot start Chromium: {e.msg}", file=sys.stderr)
            return 2
        try:
            run_checks(driver, report, expected, checks)
        except WebDriverException as e:
            checks.check("browser session", False, e.msg)
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    print(f"report check: {checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
