"""``ruleopt report``: from real cells (the measurement functions on a small generated
capture, speed cells from ``ruleopt compare --json``) to the HTML and Markdown reports,
and the HTML rendered in headless Chromium (every plot drawn, no page error, the page
fits a phone's width; a screenshot kept in tests/artifacts/)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_cells import compare_json, run_cell, speed_cells

from ruleopt.cli import main
from ruleopt.errors import RuleoptError
from ruleopt.experiment import measure_overhead, measure_profile, measure_rate
from ruleopt.experiment.cell import Cell, CellContext
from ruleopt.experiment.inputs import workload_path
from ruleopt.report.figures import Index, cells_table
from ruleopt.report.html import render_html
from ruleopt.report.load import load_results
from ruleopt.report.markdown import render_markdown
from ruleopt.report.sections import build_report
from ruleopt.report.verdicts import FINER_MIN, proposal_verdicts

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
RULES = (str(REPO / "rulesets" / "seed_rules.yaml"),)
WORKLOAD = {"kind": "generated", "events": 3000, "seed": 1, "break_share": 0.05}
RATES = [float(r) for r in np.geomspace(1e5, 1e9, 5)]
SECTIONS = ("study", "faster", "finer", "cached", "overhead", "speed", "cells")


def _cell(measurement: str, engine: str, strategy: str, build: str, **params) -> Cell:
    return Cell(measurement, RULES, WORKLOAD, strategy, engine, build, 0, params)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    capture = workload_path(
        CellContext(
            _cell("speed", "replica", "baseline", "untraced"), root / "work", root / "inputs"
        )
    )
    speed_cells(root, compare_json(list(RULES), capture), RULES, WORKLOAD)
    for engine in ("replica", "libsinsp"):
        run_cell(root, _cell("profile", engine, "baseline", "rule-traced"), measure_profile.measure)
    for strategy in ("baseline", "finer"):
        for engine in ("replica", "libsinsp"):
            run_cell(
                root,
                _cell("rate", engine, strategy, "untraced", rates=RATES, buffer=64, repeat_inner=1),
                measure_rate.measure,
            )
    for build in ("rule-traced", "stack-traced"):
        run_cell(
            root,
            _cell("overhead", "replica", "baseline", build, repeat_inner=3),
            measure_overhead.measure,
        )
    # Cells that fail, as the runner records them, and a file that is not a cell.
    run_cell(root, _cell("rate", "libsinsp", "flat", "untraced", rates=RATES), measure_rate.measure)
    run_cell(
        root, _cell("overhead", "replica", "baseline", "no-such-build"), measure_overhead.measure
    )
    (root / "cells" / "broken.json").write_text("{not json")
    return root


def _cells(root: Path, measurement: str) -> list[dict]:
    docs = [json.loads(p.read_text()) for p in (root / "cells").glob(f"{measurement}-*.json")]
    return [d for d in docs if d["status"] == "ok"]


def test_measurement_cells_follow_the_contract(results: Path) -> None:
    profiles = _cells(results, "profile")
    assert {d["key"]["engine"] for d in profiles} == {"replica", "libsinsp"}
    for d in profiles:
        f = d["figures"]
        assert f["unmatched_check_cycles_p50"] > 0 and f["matched_check_cycles_p50"] > 0
        assert f["write_below_etc_matched_p50"] > 0  # seed_rules has the study's rule
        rules = d["series"]["rules"]
        assert rules and sum(r["checks"] for r in rules) == f["checks"]
        for r in rules:
            assert r["matches"] <= r["checks"]
            assert sum(n for _lo, _hi, n in r["matched_hist"]) == r["matches"] * f["passes"]
            assert all(hi == 2 * lo or lo == 0 for lo, hi, _n in r["unmatched_hist"])
    rates = _cells(results, "rate")
    # Both engines' drop curves, finer's learned held out (never on the measured events).
    assert {(d["key"]["engine"], d["key"]["strategy"]) for d in rates} == {
        (e, s) for e in ("replica", "libsinsp") for s in ("baseline", "finer")
    }
    for d in rates:
        learned = d.get("trained_on")
        assert (learned is None) == (d["key"]["strategy"] == "baseline")
        assert learned is None or learned.startswith("held out")
    for d in rates:
        s = d["series"]
        assert s["rates"] == RATES and len(s["drop_share"]) == len(RATES)
        assert all(0 <= x <= 1 for x in s["drop_share"])
        # 10^9 events/s into a ring of 64: the replay must drop; the grid brackets it.
        assert s["drop_share"][-1] > 0
        f = d["figures"]
        assert f["first_drop_rate"] < f["lowest_dropping_rate"] <= RATES[-1]
        assert 0 < f["breaking_share"] < 1
    overheads = _cells(results, "overhead")
    assert {d["key"]["build"] for d in overheads} == {"rule-traced", "stack-traced"}
    for d in overheads:
        f = d["figures"]
        assert f["overhead"] == pytest.approx(
            f["traced_cycles_per_event"] / f["untraced_cycles_per_event"] - 1
        )
        assert len(d["series"]["traced_cycles_per_event"]) == 3
    failed = [
        json.loads(p.read_text())
        for p in (results / "cells").glob("*.json")
        if p.name != "broken.json"
    ]
    errors = [d["error"] for d in failed if d["status"] == "error"]
    assert any("'flat' cannot run on libsinsp" in e for e in errors)
    assert any("no-such-build" in e for e in errors)


def test_loader_lists_failed_and_unreadable(results: Path) -> None:
    r = load_results(results)
    assert len(r.failed) == 2 and [u["file"] for u in r.unreadable] == ["broken.json"]
    assert {c.measurement for c in r.cells} == {"speed", "profile", "rate", "overhead"}


def test_verdicts_come_from_the_figures(results: Path) -> None:
    idx = Index.of(load_results(results))
    finer = proposal_verdicts(idx)["finer"]
    for engine in ("replica", "libsinsp"):
        doc = {
            d["key"]["strategy"]: d
            for d in _cells(results, "speed")
            if d["key"]["engine"] == engine
        }
        if "finer" not in doc:
            assert finer.status(engine) == "not measured"  # no finer cell on that engine
            continue
        want = (
            doc["baseline"]["figures"]["rules_checked_per_event"]
            / doc["finer"]["figures"]["rules_checked_per_event"]
        )
        assert f"{want:.2f}x" in finer.engine_text(engine)
        assert finer.status(engine) == ("held" if want >= FINER_MIN else "not held")


def _report(results: Path, out: Path, *extra: str) -> str:
    assert main(["report", str(results), "-o", str(out), *extra]) == 0
    return out.read_text()


@pytest.fixture(scope="module")
def html_report(results: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    _report(results, out)
    return out


def test_html_report(html_report: Path) -> None:
    page = html_report.read_text()
    for sid in SECTIONS:
        assert f'id="{sid}"' in page
    assert '<meta name="viewport"' in page and "@media print" in page
    assert "overflow-x: auto" in page  # tables scroll on a narrow screen
    # Self-contained: no script, no external resource.
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    plots = re.findall(r'data-plot="([^"]+)"', page)
    assert {
        "faster-cycles_per_event",
        "finer-rules_checked_per_event",
        "cached-output_cycles_per_alert",
        "study-latency",
        "study-drops",
        "overhead",
    } <= set(plots)
    assert page.count("<svg") == len(plots)
    assert "cannot run on libsinsp" in page and "broken.json" in page
    assert "Proposal 2, finer tagging" in page


def test_markdown_report(results: Path, tmp_path: Path) -> None:
    text = _report(results, tmp_path / "study.md")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 6
    for link in links:
        svg = (tmp_path / link).read_text()
        assert svg.startswith("<svg") and "</svg>" in svg
    assert "| strategy |" in text and "## Proposal 3: cached output" in text
    assert not list(tmp_path.glob(".ruleopt-*"))  # no staging left


def test_no_cells_is_a_located_error(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    (empty / "cells").mkdir(parents=True)
    out = tmp_path / "r.html"
    assert main(["report", str(empty), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{empty}: no cell results in {empty / 'cells'}" in err and "hint:" in err
    assert not out.exists()
    assert main(["report", str(tmp_path / "missing"), "-o", str(out)]) == 1
    assert "missing" in capsys.readouterr().err and not out.exists()
    assert main(["report", str(empty), "-o", str(tmp_path / "r.txt")]) == 1
    assert "must be a .html file" in capsys.readouterr().err


# What the page must show once Chromium has laid it out: every plot's <svg> drawn with a
# size and marks, no horizontal overflow at a phone's width, and no error event.
CHECK_JS = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('load', () => {
  const plots = [...document.querySelectorAll('figure.plot')].map(f => {
    const s = f.querySelector('svg'); const r = s ? s.getBoundingClientRect() : null;
    return {name: f.dataset.plot, w: r ? r.width : 0, h: r ? r.height : 0,
            marks: s ? s.querySelectorAll('path, rect, line, polyline, use').length : 0};
  });
  const out = document.createElement('pre'); out.id = 'ruleopt-check';
  out.textContent = JSON.stringify({plots, errors: window.__errors,
    scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth});
  document.body.appendChild(out);
});
</script>"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium package is a test dependency (setup.sh installs it)"
    return exe


def test_html_renders_in_headless_chromium(html_report: Path, tmp_path: Path) -> None:
    page = html_report.read_text()
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("</body>", CHECK_JS + "</body>"))
    base = [
        _chromium(),
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=390,2000",
    ]
    run = subprocess.run(
        [*base, "--enable-logging=stderr", "--v=0", "--dump-dom", checked.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    m = re.search(r'<pre id="ruleopt-check">(.*?)</pre>', run.stdout, re.S)
    assert m, run.stdout[-2000:]
    got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert got["errors"] == []
    assert got["scrollWidth"] <= got["width"], "the page is wider than a phone's screen"
    want = re.findall(r'data-plot="([^"]+)"', page)
    assert [p["name"] for p in got["plots"]] == want
    for p in got["plots"]:
        assert p["w"] > 100 and p["h"] > 50 and p["marks"] > 10, p
    console = [ln for ln in run.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert console == []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-phone.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", html_report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000
    # In print: the page prints (the @media print rules apply) to a PDF of several pages.
    pdf = ARTIFACTS / "report.pdf"
    subprocess.run(
        [*base, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html_report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2
    (ARTIFACTS / "report.html").write_text(page)
    print(f"screenshot: {shot}")


HOSTILE = {
    "nan.json": '{"schema": "ruleopt.cell/1", "status": "ok", "key": KEY, "figures": {"x": NaN}}',
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "schema.json": '{"schema": "other/1"}',
    "nokey.json": '{"schema": "ruleopt.cell/1", "status": "ok", "key": {"measurement": "speed"}}',
    "series.json": '{"schema": "ruleopt.cell/1", "status": "ok", "key": KEY, '
    '"series": {"rules": [{"rule": "r", "matched_hist": [[1, 2]]}]}}',
    "rates.json": '{"schema": "ruleopt.cell/1", "status": "ok", "key": RATEKEY, '
    '"series": {"rates": [1, 2], "drop_share": [0]}}',
    "binary.json": "\udcff",
}
# Cells that are well-formed but odd: reported, never a crash.
ODD_WORKLOAD = {"kind": "generated", "events": "many", "seed": [1], "break_share": "x"}


def test_hostile_cell_files_are_listed_not_fatal(results: Path, tmp_path: Path) -> None:
    cells = tmp_path / "cells"
    cells.mkdir()
    ok = next((results / "cells").glob("speed-replica-baseline-*.json"))
    shutil.copy(ok, cells / ok.name)
    key = json.loads(ok.read_text())["key"]
    profile_key = json.dumps({**key, "measurement": "profile"})
    rate_key = json.dumps({**key, "measurement": "rate"})
    for name, text in HOSTILE.items():
        text = text.replace("RATEKEY", rate_key).replace("KEY", profile_key)
        (cells / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    odd = json.loads(ok.read_text())
    odd["key"] = {**key, "workload": ODD_WORKLOAD, "repeat": "0", "params": {"mode": 3}}
    (cells / "odd.json").write_text(json.dumps(odd))
    r = load_results(tmp_path)
    assert len(r.cells) == 2 and sorted(u["file"] for u in r.unreadable) == sorted(HOSTILE)
    assert all(u["reason"] for u in r.unreadable)
    page = _report(tmp_path, tmp_path / "r.html")
    for name in HOSTILE:
        assert name in page
    assert "generated many events" in page
    assert "not measured on libsinsp" in page


@pytest.mark.parametrize(
    ("module", "cell", "message"),
    [
        (measure_rate, _cell("rate", "replica", "baseline", "untraced", rates="x"), "params.rates"),
        (measure_rate, _cell("rate", "replica", "baseline", "untraced", buffer=0), "params.buffer"),
        (measure_rate, _cell("rate", "replica", "baseline", "rule-traced"), "untraced build"),
        (measure_overhead, _cell("overhead", "replica", "baseline", "untraced"), "traced build"),
        (measure_overhead, _cell("overhead", "libsinsp", "baseline", "rule-traced"), "libsinsp"),
        (
            measure_overhead,
            _cell("overhead", "replica", "baseline", "rule-traced", mode="x"),
            "params.mode",
        ),
        (measure_profile, _cell("profile", "libsinsp", "finer", "rule-traced"), "stock engine"),
        (measure_profile, _cell("profile", "replica", "baseline", "stack-traced"), "rule-traced"),
    ],
)
def test_bad_cell_settings_are_located_errors(module, cell: Cell, message: str, tmp_path) -> None:
    with pytest.raises(RuleoptError) as err:
        module.measure(CellContext(cell, tmp_path, tmp_path / "inputs"))
    assert err.value.file == f"cell {cell.id()}" and message in str(err.value)


def test_supports_says_why_the_grid_skips() -> None:
    assert measure_rate.supports("libsinsp", "baseline", "untraced") is None
    assert "not built in the real engine" in measure_rate.supports("libsinsp", "flat", "untraced")
    assert measure_rate.supports("replica", "finer", "untraced") is None
    assert "stock engine" in measure_profile.supports("libsinsp", "finer", "rule-traced")
    assert measure_profile.supports("libsinsp", "baseline", "rule-traced") is None
    assert measure_overhead.supports("libsinsp", "baseline", "rule-traced")
    assert measure_overhead.supports("replica", "baseline", "sampled:8") is None


def test_repeats_combine_and_missing_repeats_are_listed(results: Path, tmp_path: Path) -> None:
    cells = tmp_path / "cells"
    cells.mkdir()
    base = next((results / "cells").glob("speed-replica-baseline-*.json"))
    finer = next((results / "cells").glob("speed-replica-finer-*.json"))
    shutil.copy(base, cells / base.name)
    shutil.copy(finer, cells / finer.name)
    doc = json.loads(base.read_text())
    doc["key"]["repeat"] = 1
    first = doc["figures"]["cycles_per_event"]
    doc["figures"]["cycles_per_event"] = first + 10.0
    (cells / "speed-replica-baseline-repeat1.json").write_text(json.dumps(doc))
    r = load_results(tmp_path)
    fig = Index.of(r).fig("speed", "cycles_per_event", engine="replica", strategy="baseline")
    assert fig is not None and fig.n == 2
    assert fig.median == pytest.approx(first + 5.0) and fig.spread == pytest.approx(5.0)
    rows = {row[2]: row for row in cells_table(r).rows}
    assert rows["baseline"][5:] == ["2", "0", "–"]
    assert rows["finer"][5:] == ["1", "0", "1"]  # repeat 1 of finer is missing


def test_sampled_overhead_cell(results: Path, tmp_path: Path) -> None:
    """sampled:N: the rules build timing 1 in N events, its largest per-rule error against
    full tracing beside the overhead."""
    cell = _cell("overhead", "replica", "baseline", "sampled:4", repeat_inner=2)
    ctx = CellContext(cell, tmp_path, results / "inputs")
    f = measure_overhead.measure(ctx)["figures"]
    assert f["max_rule_error"] >= 0 and f["traced_cycles_per_event"] > 0


FIGURES = {
    "speed": (
        "cycles_per_event",
        "rules_checked_per_event",
        "output_cycles_per_alert",
        "equivalent",
    ),
    "profile": (
        "matched_check_cycles_p50",
        "unmatched_check_cycles_p50",
        "write_below_etc_matched_p50",
        "write_below_etc_unmatched_p50",
        "matched_check_cycles_mean",
    ),
    "rate": ("first_drop_rate", "lowest_dropping_rate", "breaking_share"),
    "overhead": ("overhead", "untraced_cycles_per_event", "traced_cycles_per_event"),
}
_num = st.floats(-1e12, 1e12, allow_nan=False) | st.sampled_from([0.0, 1.0, 5e-324])


@st.composite
def _cell_doc(draw) -> dict:
    m = draw(st.sampled_from(sorted(FIGURES)))
    names = draw(st.lists(st.sampled_from(FIGURES[m]), unique=True))
    series: dict = {}
    if m == "rate":
        rates = draw(st.lists(_num, max_size=4))
        series = {
            "rates": rates,
            "drop_share": draw(st.lists(_num, min_size=len(rates), max_size=len(rates))),
        }
    elif m == "profile":
        hist = st.lists(st.tuples(_num, _num, _num).map(list), max_size=3)
        series = {
            "rules": [
                {
                    "rule": draw(st.sampled_from(["Write below etc", "r"])),
                    "checks": draw(_num),
                    "matched_hist": draw(hist),
                    "unmatched_hist": draw(hist),
                }
            ]
        }
    return {
        "schema": "ruleopt.cell/1",
        "status": "ok",
        "key": {
            "measurement": m,
            "ruleset": ["r.yaml"],
            "workload": {"kind": "capture", "path": "c.scap"},
            "strategy": draw(
                st.sampled_from(["baseline", "finer", "cached-output", "reorder", "odd"])
            ),
            "engine": draw(st.sampled_from(["replica", "libsinsp"])),
            "build": draw(st.sampled_from(["untraced", "rule-traced"])),
            "repeat": draw(st.integers(0, 2)),
            "params": {},
        },
        "figures": {n: draw(_num) for n in names},
        "spread": {n: draw(_num) for n in names if draw(st.booleans())},
        "series": series,
    }


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_cell_doc(), min_size=1, max_size=4))
def test_any_cells_render(docs: list[dict]) -> None:
    """Whatever numbers well-formed cells carry (zeros, negatives, huge, tiny), the report
    renders in both formats: odd figures are shown, never a crash."""
    with tempfile.TemporaryDirectory() as tmp:
        cells = Path(tmp) / "cells"
        cells.mkdir()
        for i, d in enumerate(docs):
            (cells / f"c{i}.json").write_text(json.dumps(d))
        report = build_report(load_results(tmp))
        page = render_html(report)
        assert page.count("<svg") == sum(len(s.plots) for s in report.sections)
        assert render_markdown(report, "r")["r.md"].startswith("# ")


def test_log_plots_of_nothing_positive_draw_without_warnings() -> None:
    # An engine that printed no alert has output cycles 0, one without checks no
    # histogram: the plot is drawn on a linear axis, not a log axis matplotlib refuses.
    import warnings

    from ruleopt.report import plots
    from ruleopt.report.figures import Fig

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bars = plots.grouped_bars(
            "z", "zeros", "cycles", ["baseline"], {"replica": [Fig(0.0, 0.0, 1)]}, logy=True
        )
        lat = plots.latency_plot("l", "none", {"libsinsp: r": {"unmatched": [], "matched": []}})
    assert bars.startswith("<svg") and lat.startswith("<svg")
