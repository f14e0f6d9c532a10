#!/usr/bin/env python3
"""Browser check for the b2b-convert HTML run report.

Usage: python3 report_check.py REPORT.html EXPECTED.json

Loads the report from file:// in headless Chromium (through chromedriver and Python's
`selenium`) at a 1400 px wide window and checks that it renders; that its inline script
runs under the page's Content-Security-Policy; that the run picker shows one run at a
time, the latest first, and switches runs; that each run's headline, counts, rows and
links are the ones counted from the journal; that nothing is wider than the window
(no sideways scrolling, even with every collapsed text opened); that the filter box and
the decision and invitation selects hide exactly the rows that don't match; and that
display names full of markup show as text and never run. Prints one line per check,
then `report check: N passed, M failed`; exits 0 when all pass, 1 when any fails, 2 when
the browser can't be started or the arguments are wrong.

EXPECTED.json (what `b2b_convert_core::report::browser_expectations` writes); "runs"
is required, the latest run first:
  {
    "title_contains": "b2b-convert run report",
    "width": 1400,                               # the window width the page must fit
    "runs": [{
      "index": 0,                                # the picker's value, the panel's data-run
      "headline": "2 of 9 users converted, 1 accepted",
      "numbers": {"total": 9, "converted": 2, "accepted": 1},
      "rows": 9,                                 # rows in the run's table
      "decisions": {"convert": 5, "skip": 1, "blocked": 3},
      "states": {"accepted": 1, "pending": 1, "unchecked": 1, "none": 6, ...},
      "reasons": {"not_found": 2, "has_mailbox": 1, ...},
      "links": 1,                                # links to deliver
      "teams_link": "https://teams.microsoft.com/?tenantId=...",
      "visible_texts": ["<script>alert(\"x\")</script>"]   # must show as text
    }, ...]
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

# Row number, data attributes, text and whether it is rendered, for every row of a
# run's table.
ROWS_JS = r"""
var panel = arguments[0];
return Array.prototype.map.call(panel.querySelectorAll('table.users tbody tr'), function (tr) {
  return {
    row: tr.getAttribute('data-row'),
    decision: tr.getAttribute('data-decision'),
    state: tr.getAttribute('data-state'),
    text: tr.textContent,
    visible: tr.getClientRects().length > 0
  };
});
"""

# What sticks out past the window: the page's own width, and every rendered element of
# the panel whose right edge passes the viewport or whose content overflows its box.
OVERFLOW_JS = r"""
var panel = arguments[0];
var root = document.documentElement;
var limit = root.clientWidth + 1;
var out = [];
Array.prototype.forEach.call(panel.querySelectorAll('*'), function (el) {
  if (el.getClientRects().length === 0) { return; }
  var r = el.getBoundingClientRect();
  if (r.right > limit) {
    out.push(el.tagName.toLowerCase() + '.' + el.getAttribute('class') + ' right=' + Math.round(r.right));
  } else if (el.tagName !== 'svg' && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 &&
             getComputedStyle(el).overflowX !== 'visible') {
    out.push(el.tagName.toLowerCase() + '.' + el.getAttribute('class') + ' scrolls ' + el.scrollWidth + '>' + el.clientWidth);
  }
});
return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, over: out.slice(0, 5)};
"""

DECISIONS = ["convert", "skip", "blocked"]
STATES = ["accepted", "pending", "unchecked", "deleted", "no-state", "other", "none"]


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


def start_browser(profile, width):
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},1000")
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOKS})
    return driver


def fit_window(driver, width):
    """Makes the viewport (window.innerWidth) exactly `width`, whatever the frame."""
    frame = driver.execute_script("return window.outerWidth - window.innerWidth;") or 0
    driver.set_window_size(width + frame, 1000)
    return driver.execute_script("return window.innerWidth;")


def panel(driver, index):
    return driver.find_element(By.CSS_SELECTOR, f'section.run[data-run="{index}"]')


def rows(driver, panel_el):
    return driver.execute_script(ROWS_JS, panel_el)


def visible_rows(driver, panel_el):
    return [r["row"] for r in rows(driver, panel_el) if r["visible"]]


def shown_count(panel_el):
    return panel_el.find_element(By.CSS_SELECTOR, ".shown").text.strip()


def type_filter(panel_el, text):
    box = panel_el.find_element(By.CSS_SELECTOR, "input.filter")
    # Select-all + delete fires `input` the way a person clearing the box does.
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)


def count_cell(panel_el, key):
    cells = panel_el.find_elements(By.CSS_SELECTOR, f'td[data-count="{key}"]')
    return cells[0].text.strip() if cells else None


def check_fit(driver, checks, panel_el, label):
    fit = driver.execute_script(OVERFLOW_JS, panel_el)
    checks.check(
        f"{label}: no sideways scrolling (scrollWidth {fit['scrollWidth']} <= innerWidth {fit['innerWidth']})",
        fit["scrollWidth"] <= fit["innerWidth"] and fit["over"] == [],
        str(fit),
    )


def check_run(driver, checks, run, all_runs, width):
    index = run["index"]
    label = f"run {index}"
    Select(driver.find_element(By.ID, "run-picker")).select_by_value(str(index))
    shown = [r["index"] for r in all_runs if panel(driver, r["index"]).is_displayed()]
    checks.check(f"{label}: the picker shows this run only", shown == [index], f"shown {shown}")
    p = panel(driver, index)

    headline = p.find_element(By.CSS_SELECTOR, ".headline")
    checks.check(f"{label}: headline {run['headline']!r}", headline.text.strip() == run["headline"],
                 f"shows {headline.text!r}")
    for key, want in run.get("numbers", {}).items():
        got = headline.find_element(By.CSS_SELECTOR, f'[data-n="{key}"]').text.strip()
        checks.check(f"{label}: headline {key} = {want}", got == str(want), f"shows {got}")

    for key, want in run.get("decisions", {}).items():
        got = count_cell(p, f"decision-{key}")
        checks.check(f"{label}: decision count {key}", got == str(want), f"shows {got}, journal {want}")
    for key, want in run.get("states", {}).items():
        if key == "none":
            continue
        got = count_cell(p, f"state-{key}")
        ok = got == str(want) if want else got in (None, "0")
        checks.check(f"{label}: invitation count {key}", ok, f"shows {got}, journal {want}")
    for code, want in run.get("reasons", {}).items():
        got = count_cell(p, f"reason-{code}")
        checks.check(f"{label}: reason count {code}", got == str(want), f"shows {got}, journal {want}")
        group = p.find_elements(By.CSS_SELECTOR, f'section.group[data-reason="{code}"] tbody tr')
        checks.check(f"{label}: group {code} lists its rows", len(group) == want, f"{len(group)} rows")

    link_rows = p.find_elements(By.CSS_SELECTOR, "table.links tbody tr")
    checks.check(f"{label}: links to deliver", len(link_rows) == run.get("links", 0), f"{len(link_rows)} listed")
    if "teams_link" in run:
        urls = [c.text.strip() for c in p.find_elements(By.CSS_SELECTOR, ".deliver code.url")]
        checks.check(f"{label}: Teams link shown", run["teams_link"] in urls, str(urls[:2]))

    all_rows = rows(driver, p)
    total = int(run["rows"])
    checks.check(f"{label}: table rows = journal rows", len(all_rows) == total, f"{len(all_rows)} rows, expected {total}")
    checks.check(f"{label}: all rows visible at first",
                 all(r["visible"] for r in all_rows) and shown_count(p) == str(total), f"shown {shown_count(p)}")
    checks.check(
        f"{label}: rows carry data-decision and data-state",
        all(r["decision"] in DECISIONS and r["state"] in STATES for r in all_rows),
        str([(r["row"], r["decision"], r["state"]) for r in all_rows
             if r["decision"] not in DECISIONS or r["state"] not in STATES]),
    )
    for key, values, attr in (("decisions", DECISIONS, "decision"), ("states", STATES, "state")):
        if key in run:
            got = {v: sum(1 for r in all_rows if r[attr] == v) for v in values}
            want = {v: int(run[key].get(v, 0)) for v in values}
            checks.check(f"{label}: rows per {attr} = journal", got == want, f"got {got}, expected {want}")

    # Markup in names must be text: shown verbatim, never parsed into elements.
    text = p.get_attribute("innerText")
    for name in run.get("visible_texts", []):
        checks.check(f"{label}: shown as text: {name!r}", name in text)
    checks.check(f"{label}: no Graph spelling shown", "PendingAcceptance" not in text)
    checks.check(f"{label}: no backtick shown", "`" not in text)

    # Fits the window, closed and with every collapsed text opened.
    check_fit(driver, checks, p, label)
    driver.execute_script("arguments[0].querySelectorAll('details').forEach(function (d) { d.open = true; });", p)
    check_fit(driver, checks, p, f"{label} with every detail open")
    driver.execute_script("arguments[0].querySelectorAll('details').forEach(function (d) { d.open = false; });", p)
    return p, all_rows


def check_filters(driver, checks, p, all_rows, run):
    total = len(all_rows)
    # Filter box: exactly the rows whose text contains the filter stay visible.
    texts = [t for t in run.get("visible_texts", []) if t]
    probe = texts[0] if texts else (all_rows[len(all_rows) // 2]["text"].split()[1] if all_rows else "x")
    type_filter(p, probe)
    want = sorted(r["row"] for r in all_rows if probe.lower() in r["text"].lower())
    got = sorted(visible_rows(driver, p))
    checks.check(f"filter {probe!r} keeps only matching rows", got == want and len(got) > 0, f"visible {got}, matching {want}")
    checks.check("shown count follows the filter", shown_count(p) == str(len(want)), shown_count(p))

    type_filter(p, "zz-no-such-row-zz")
    checks.check("filter with no match hides every row", visible_rows(driver, p) == []
                 and p.find_element(By.CSS_SELECTOR, ".empty").is_displayed())
    type_filter(p, "")
    checks.check("clearing the filter shows every row", len(visible_rows(driver, p)) == total)

    # Selects: each option keeps exactly the rows with that attribute.
    for select_class, attr in (("decision", "decision"), ("state", "state")):
        select = Select(p.find_element(By.CSS_SELECTOR, f"select.{select_class}"))
        values = [o.get_attribute("value") for o in select.options if o.get_attribute("value")]
        words = [o.text for o in select.options]
        checks.check(f"{select_class} options in plain words", all(w and "PendingAcceptance" not in w for w in words), str(words))
        for value in values:
            select.select_by_value(value)
            want = sorted(r["row"] for r in all_rows if r[attr] == value)
            got = sorted(visible_rows(driver, p))
            checks.check(f"{select_class} select {value!r}", got == want and len(got) > 0, f"visible {got}, expected {want}")
        select.select_by_value("")
    checks.check("selects reset show every row", len(visible_rows(driver, p)) == total)

    # Both together: a select narrows what the filter already narrowed.
    if all_rows:
        first = all_rows[0]
        Select(p.find_element(By.CSS_SELECTOR, "select.decision")).select_by_value(first["decision"])
        type_filter(p, first["row"])
        want = sorted(r["row"] for r in all_rows if r["decision"] == first["decision"] and first["row"] in r["text"])
        got = sorted(visible_rows(driver, p))
        checks.check("filter and select combine", got == want and first["row"] in got, f"visible {got}, expected {want}")
        type_filter(p, "")
        Select(p.find_element(By.CSS_SELECTOR, "select.decision")).select_by_value("")


def run_checks(driver, report, expected, checks):
    width = int(expected.get("width", 1400))
    inner = fit_window(driver, width)
    checks.check(f"window is {width} px wide", inner == width, f"innerWidth {inner}")
    driver.get(report.resolve().as_uri())
    runs = expected["runs"]

    title = driver.title
    want_title = expected.get("title_contains", "b2b-convert")
    checks.check("title", want_title in title, f"title is {title!r}")

    picker = driver.find_element(By.ID, "picker")
    checks.check("inline script ran under the CSP (run picker shown)", picker.is_displayed())
    select = Select(driver.find_element(By.ID, "run-picker"))
    values = [o.get_attribute("value") for o in select.options]
    checks.check("the picker lists every run, the latest first",
                 values == [str(r["index"]) for r in runs], str(values))
    checks.check("the latest run shows by default",
                 select.first_selected_option.get_attribute("value") == str(runs[0]["index"])
                 and panel(driver, runs[0]["index"]).is_displayed()
                 and all(not panel(driver, r["index"]).is_displayed() for r in runs[1:]))
    controls = panel(driver, runs[0]["index"]).find_element(By.CSS_SELECTOR, ".controls")
    checks.check("filters shown", controls.is_displayed())

    svgs = panel(driver, runs[0]["index"]).find_elements(By.CSS_SELECTOR, "svg.bars")
    checks.check(
        "chart svg present",
        len(svgs) >= 1 and all(s.is_displayed() for s in svgs)
        and all(len(s.find_elements(By.TAG_NAME, "rect")) > 0 for s in svgs),
        f"{len(svgs)} charts",
    )

    # Every run, through the picker (the latest last, so the page ends as it began).
    for run in list(runs[1:]) + [runs[0]]:
        p, all_rows = check_run(driver, checks, run, runs, width)
    check_filters(driver, checks, p, all_rows, runs[0])

    checks.check("no <img> or extra <script> in the page",
                 driver.execute_script("return document.images.length === 0 && document.scripts.length === 1;"))
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
        if not expected["runs"]:
            raise ValueError("no runs")
        for run in expected["runs"]:
            int(run["rows"]), int(run["index"]), str(run["headline"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"report check: {argv[2]}: unreadable expectations ({e})", file=sys.stderr)
        return 2

    profile = tempfile.mkdtemp(prefix="report-check-")
    checks = Checks()
    try:
        try:
            driver = start_browser(profile, int(expected.get("width", 1400)))
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
