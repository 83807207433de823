"""The HTML report: what it says, that it is self-contained and deterministic, and that
a real browser (headless Chromium driven over WebDriver) renders it whole.

The browser test needs Debian's ``chromium`` and ``chromium-driver``; ``.ci/run`` installs
them, so in CI their absence is a failure; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from paths import ROOT

import sim.charts
import sim.report
from sim.experiment.compare import ComparisonResult, compare
from sim.experiment.output import load_any, write_comparison, write_results
from sim.experiment.runner import run_scenario
from sim.metrics import METRICS
from sim.report import render_report, write_report
from sim.report.findings import finding, findings, sentence
from sim.report.parameters import market_differences
from sim.scenario import load_scenario

SMALL = ["run.days=70", "run.warmup_days=10", "run.replications=3"]


@pytest.fixture(scope="module")
def comparison() -> ComparisonResult:
    """god against tiered on the same customers: 3 replications of 70 days (about a second)."""
    specs = [load_scenario(ROOT / f"scenarios/{name}.toml", SMALL) for name in ("god", "tiered")]
    return compare(specs, jobs=1)


@pytest.fixture(scope="module")
def single() -> ComparisonResult:
    """One run, as 'simrun report' loads a single run's folder."""
    one = run_scenario(load_scenario(ROOT / "scenarios/partner.toml", SMALL), jobs=1)
    return ComparisonResult(one.scenario.name, (one,), one.scenario.name, "profit")


@pytest.fixture(scope="module")
def report(comparison: ComparisonResult) -> str:
    return render_report(comparison)


class Page(HTMLParser):
    """What a test needs from the HTML: title, tables, images, every URL-bearing attribute."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.title = ""
        self.tables: list[list[list[str]]] = []
        self.images: list[dict[str, str]] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._in: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = {k: v or "" for k, v in attrs}
        self.urls += [v for k, v in a.items() if k in ("src", "href", "action", "data")]
        if tag == "img":
            self.images.append(a)
            return
        self._in.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "title":
            self.title += data
        if self._cell is not None:
            self._cell.append(data)

    def table(self, caption_start: str) -> list[list[str]]:
        for table in self.tables:
            if table and table[0] and table[0][0].startswith(caption_start):
                return table
        raise AssertionError(f"no table whose first cell starts with {caption_start!r}")


def test_report_has_a_title_naming_the_strategies(report: str) -> None:
    page = Page(report)
    assert page.title == "Customer is God vs Tiered service · simrun report"
    assert "<h1>Customer is God vs Tiered service</h1>" in report


def test_report_names_every_strategy_in_the_tables_and_the_parameters(report: str) -> None:
    page = Page(report)
    key = page.table("Metric")
    assert key[0] == ["Metric", "Customer is God (baseline)", "Tiered service"]
    assert [row[0] for row in key[1:4]] == [
        "Profit (EUR)", "Customer retention (per 90-day period)", "Cost per customer served (EUR)"]
    strategies = page.table("Strategy")
    assert strategies[0] == ["Strategy", "Customer is God", "Tiered service"]
    assert "basic 35, standard 55, premium 95" in strategies[1]


BY_RULE = ("turned_away", "waitlisted", "genuine_claims")
"""What god and tiered hold at 0 by their rules: both admit every visit on arrival, with
no limit to the waiting room, and fix every failure."""


def test_full_table_lists_every_metric_a_firm_without_rivals_to_copy_can_have(
        report: str) -> None:
    """Every metric but those 0 by construction: the imitation cost (nobody imitates),
    and those both strategies' rules hold at 0, named in a note under the table."""
    labels = {row[0] for table in Page(report).tables for row in table}
    can_have = {m.text(90, "EUR") for m in METRICS if m.key not in ("imitation_cost", *BY_RULE)}
    assert can_have <= labels
    assert not {"Imitation cost (EUR)", "Visits turned away", "Visits waitlisted",
                "Genuine refund claims"} & labels
    assert f"All {len(can_have)} metrics" in report
    assert ("Not shown, 0 in every replication by every strategy's rules: visits turned "
            "away (admission 'everyone' admits every visit") in html.unescape(report)


def test_the_imitation_cost_is_listed_where_a_firm_may_imitate_a_rival(
        comparison: ComparisonResult) -> None:
    imitating = replace(comparison, results=tuple(
        replace(r, scenario=replace(r.scenario, market=replace(r.scenario.market,
                                                                imitation_rate=0.5)))
        for r in comparison.results))
    page = Page(render_report(imitating))
    labels = {row[0] for table in page.tables for row in table}
    assert {m.text(90, "EUR") for m in METRICS if m.key not in BY_RULE} <= labels
    assert f"All {len(METRICS) - len(BY_RULE)} metrics" in render_report(imitating)


def test_summary_says_who_wins_each_headline_metric_from_the_numbers(
        comparison: ComparisonResult, report: str) -> None:
    for f in findings(comparison):
        means = {n: comparison.result(n).estimates()[f.metric.key].mean
                 for n in comparison.names}
        pick = max if f.metric.higher_is_better else min
        assert f.best == pick(means, key=lambda n: means[n])
        assert f.runner_up is not None
    profit = finding(comparison, "profit")
    said = sentence(comparison, profit)
    labels = comparison.labels
    assert said.startswith(f"<strong>{labels[profit.best]}</strong> ")
    assert f"than <strong>{labels[profit.runner_up]}</strong> on the same customers" in said
    assert said in report
    assert "Probability of having the best profit" in report


def test_report_is_self_contained(report: str) -> None:
    page = Page(report)
    assert page.images, "the charts are missing"
    assert all(url.startswith("data:image/") for url in page.urls)
    assert all(img.get("alt") for img in page.images)
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", report)
    for img in page.images:
        kind, _, data = img["src"].partition(";base64,")
        if kind == "data:image/svg+xml":
            assert not re.search(rb"href=.(https?:)?//", base64.b64decode(data))
    assert "@import" not in report
    assert "url(" not in report


def test_simrun_report_writes_the_same_bytes_as_the_results_in_memory(
        comparison: ComparisonResult, report: str, tmp_path: Path) -> None:
    """'simrun compare --report' renders the results in memory, 'simrun report' reads them
    back from the folder: both must give the same file, byte for byte."""
    from click.testing import CliRunner

    from sim.cli import main

    write_comparison(comparison, tmp_path)
    outcome = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert outcome.exit_code == 0, outcome.output
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == report


def test_report_does_not_depend_on_the_process(
        comparison: ComparisonResult, report: str, tmp_path: Path) -> None:
    """Another process, with another string-hash seed, reads the results back and writes
    the same bytes as this one rendered from memory."""
    write_comparison(comparison, tmp_path)
    script = ("import sys; from pathlib import Path; from sim.experiment.output import load_any; "
              "from sim.report import write_report; "
              "write_report(load_any(Path(sys.argv[1])), Path(sys.argv[2]))")
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    subprocess.run([sys.executable, "-c", script, str(tmp_path), str(tmp_path / "other.html")],
                   env={**os.environ, "PYTHONHASHSEED": seed}, check=True, timeout=300)
    assert (tmp_path / "other.html").read_text(encoding="utf-8") == report


def test_write_report_replaces_the_file_atomically(
        comparison: ComparisonResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.report, "render_report", lambda result: "<!DOCTYPE html>new")
    target = tmp_path / "report.html"
    target.write_text("old")
    assert write_report(comparison, target) == target
    assert target.read_text(encoding="utf-8") == "<!DOCTYPE html>new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_user_text_is_escaped(comparison: ComparisonResult,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.charts, "CHARTS", {})
    first = comparison.results[0]
    odd = replace(first.scenario, run=replace(first.scenario.run, name="<b>god & co</b>"),
                  strategy=replace(first.scenario.strategy, label="<b>god & co</b>"))
    result = ComparisonResult("<i>x</i>", (replace(first, scenario=odd), comparison.results[1]),
                              odd.name, "profit")
    text = render_report(result)
    assert "<b>god" not in text
    assert "<i>x" not in text
    assert "&lt;b&gt;god &amp; co&lt;/b&gt;" in text


def test_report_names_what_differs_when_the_markets_differ() -> None:
    god = load_scenario(ROOT / "scenarios/god.toml")
    monopoly = load_scenario(ROOT / "scenarios/god-monopoly.toml")
    assert market_differences([god, god]) == []
    alternatives = f"god {god.market.alternatives}, god-monopoly {monopoly.market.alternatives}"
    assert market_differences([god, monopoly]) == [f"market.alternatives: {alternatives}"]


def test_one_strategy_report_has_no_comparison(single: ComparisonResult, tmp_path: Path) -> None:
    write_results(single.results[0], tmp_path)
    text = render_report(load_any(tmp_path))
    page = Page(text)
    assert page.title == "Customer as partner: strategy partner · simrun report"
    assert page.table("Metric")[0] == ["Metric", "Customer as partner"]
    assert "<strong>Profit (EUR)</strong>: " in text
    assert "Probability of having the best" not in text
    assert len(page.images) == len(sim.charts.CHARTS)


# --- a real browser ----------------------------------------------------------------------

BROWSER_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--hide-scrollbars"]

INSPECT = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
Promise.all(images.map(i => i.decode().then(() => true, () => false))).then(decoded => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  done({
    title: document.title,
    tables: Array.from(document.querySelectorAll('table')).map(t => ({
      caption: t.caption ? t.caption.textContent : '',
      rows: t.rows.length, size: box(t)})),
    images: images.map((img, k) => ({
      alt: img.alt, decoded: decoded[k], natural: [img.naturalWidth, img.naturalHeight],
      size: box(img)})),
    svgs: Array.from(document.querySelectorAll('body svg')).map(box),
    resources: performance.getEntriesByType('resource').map(r => r.name),
    height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth,
  });
});
"""

DARK_BACKGROUNDS = """
const dark = [];
for (const e of document.querySelectorAll('*')) {
  const m = getComputedStyle(e).backgroundColor.match(/[\\d.]+/g);
  if (!m) continue;
  const [r, g, b, a] = [...m.map(Number), 1].slice(0, 4);
  if (a > 0.1 && 0.2126 * r + 0.7152 * g + 0.0722 * b < 200) dark.push(e.tagName);
}
return dark;
"""


def browser_binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    missing = [p for p in (chromium, driver) if not os.access(p, os.X_OK)]
    if missing:
        reason = (f"{', '.join(missing)} missing: install Debian's chromium and "
                  "chromium-driver (bash .ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium, driver


class WebDriver:
    """The few WebDriver endpoints the test needs, over plain HTTP to a local chromedriver."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ""

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null").get("value")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:2000]
            raise AssertionError(f"WebDriver {method} {path}: {error.code} {detail}") from None

    def in_session(self, method: str, path: str, body: Any = None) -> Any:
        return self.call(method, f"/session/{self.session}{path}", body)

    def cdp(self, command: str, **params: Any) -> Any:
        """A Chrome DevTools command through chromedriver."""
        return self.in_session("POST", "/goog/cdp/execute", {"cmd": command, "params": params})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def chromium_session(tmp_path: Path) -> Iterator[WebDriver]:
    """chromedriver on a free loopback port and one headless Chromium session; both are
    always stopped (the session deleted, chromedriver's process group killed)."""
    chromium, driver_path = browser_binaries()
    port = free_port()
    log = (tmp_path / "chromedriver.log").open("w")
    process = subprocess.Popen([driver_path, f"--port={port}"], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    driver = WebDriver(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if driver.call("GET", "/status", timeout=2).get("ready"):
                    break
            except (OSError, AssertionError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("chromedriver did not start: "
                                     + (tmp_path / "chromedriver.log").read_text()[-2000:])
            time.sleep(0.1)
        options = {"binary": chromium,
                   "args": [*BROWSER_ARGS, f"--user-data-dir={tmp_path / 'profile'}"]}
        created = driver.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options,
            "timeouts": {"script": 30000, "pageLoad": 30000}}}}, timeout=90)
        driver.session = created["sessionId"]
        yield driver
    finally:
        if driver.session:
            with contextlib.suppress(OSError, AssertionError):
                driver.call("DELETE", f"/session/{driver.session}", timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_report_renders_in_a_real_browser(report: str, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(report, encoding="utf-8")
    with chromium_session(tmp_path) as browser:
        browser.in_session("POST", "/url", {"url": path.as_uri()})
        seen = browser.in_session("POST", "/execute/async", {"script": INSPECT, "args": []})
        shot = base64.b64decode(browser.in_session("GET", "/screenshot"))
        (tmp_path / "report.png").write_bytes(shot)
        whole = base64.b64decode(browser.cdp(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": seen["width"], "height": seen["height"],
                  "scale": 0.5})["data"])
        (tmp_path / "report-full.png").write_bytes(whole)
        browser.cdp("Emulation.setEmulatedMedia", media="print")
        dark_in_print = browser.in_session("POST", "/execute/sync",
                                           {"script": DARK_BACKGROUNDS, "args": []})
        pdf = base64.b64decode(browser.cdp("Page.printToPDF", printBackground=False)["data"])
        (tmp_path / "report.pdf").write_bytes(pdf)

    assert seen["title"] == "Customer is God vs Tiered service · simrun report"
    captions = [t["caption"] for t in seen["tables"]]
    assert "Key metrics per strategy" in captions
    assert "Customer segments" in captions
    key = seen["tables"][captions.index("Key metrics per strategy")]
    assert key["rows"] > 10
    assert min(key["size"]) > 300
    assert len(seen["images"]) == len(sim.charts.CHARTS)
    for image in seen["images"]:
        assert image["decoded"], image["alt"]
        assert min(image["natural"]) > 0, image
        assert min(image["size"]) > 50, image
    assert all(min(size) > 0 for size in seen["svgs"])
    assert seen["resources"] == [], "the page loaded something from outside itself"
    width, height = png_size(shot)
    assert width == 1400
    assert height > 500
    assert len(shot) > 20_000
    assert png_size(whole)[1] > 1000
    assert dark_in_print == []
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2


@pytest.fixture(scope="module")
def explained(comparison: ComparisonResult) -> tuple[ComparisonResult, Any]:
    """The comparison with why its winner wins (every mix of knob groups, 3 replications)."""
    from sim.experiment.explain import explain_winner
    from sim.experiment.explain_output import as_written, explain_dict

    why = explain_winner(comparison, jobs=2)
    return replace(comparison, why=as_written(explain_dict(why))), why


def test_the_report_says_why_the_winner_wins_group_by_group(
        explained: tuple[ComparisonResult, Any]) -> None:
    result, why = explained
    text = render_report(result)
    winner = result.ranking()[0]
    assert why.b.name == winner
    assert '<section id="why">' in text
    assert why.sentence() + "." in text
    page = Page(text)
    table = page.table("Knob group")
    assert [row[0] for row in table[1:-1]] == list(why.players)
    assert table[-1][0].startswith(f"Total ({result.labels[winner]}")
    assert 'id="chart-why"' in text


def test_a_report_without_an_explanation_says_how_to_get_one(report: str) -> None:
    assert "Not explained in this run" in report


def test_an_explained_report_read_back_from_disk_is_the_same_file(
        explained: tuple[ComparisonResult, Any], tmp_path: Path) -> None:
    from sim.experiment.explain_output import write_explanation

    result, why = explained
    write_comparison(result, tmp_path)
    write_explanation(why, tmp_path)
    assert render_report(load_any(tmp_path)) == render_report(result)
