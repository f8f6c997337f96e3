"""Dashboard first view with 10 000 tasks in the store, and keyset page 1 vs page 50 (issue 13).

Fills a fresh state dir's tasks.db with 10 000 finished tasks, starts ``krtasks serve`` on it (token auth), then:

- API: the median time of ``GET /api/v1/tasks?Limit=50`` for page 1, for page 50 reached by its keyset cursor,
  and for page 50 by ``Offset=2450`` (kept-alive HTTPS, 30 samples each, after 5 warm-ups);
- Chromium (Debian's, through Playwright): the first view of ``/ui/tasks`` and ``/ui/`` — navigation start to
  the table (or the overview) rendered, read from the page's own ``performance.mark`` — cold (a fresh browser
  context: no HTTP cache, new TLS connections) and warm (the same address again in that context), 15 samples
  each; also page 50 opened by its URL.

    .venv/bin/python bench/ui_first_view.py [--tasks 10000] [--samples 30]

Results go to bench/results/ui-<UTC timestamp>.json and a table to stdout; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))

from daemon_fixtures import Daemon, fill_finished, start_daemon  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def summary(samples: list[float]) -> dict[str, float]:
    """Minimum, median, 90th percentile and maximum (ms)."""
    ordered = sorted(samples)
    return {
        "min_ms": round(ordered[0], 2),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
        "samples": len(ordered),
    }


def api_pages(daemon: Daemon, samples: int) -> dict[str, Any]:
    """Page 1, page 50 by cursor and page 50 by offset, 50 records a page."""
    session = daemon.session()
    url = f"{daemon.url}/api/v1/tasks"

    def timed(params: dict[str, str | int]) -> tuple[float, Any]:
        began = time.perf_counter()
        r = session.get(url, params=params, timeout=30)
        r.raise_for_status()
        r.json()
        return (time.perf_counter() - began) * 1000, r

    cursor = None
    for _ in range(49):
        _ms, r = timed({"Limit": 50, **({"Cursor": cursor} if cursor else {})})
        cursor = r.headers["X-Next-Cursor"]
    assert cursor is not None
    cases: dict[str, dict[str, str | int]] = {
        "page 1": {"Limit": 50},
        "page 50 (cursor)": {"Limit": 50, "Cursor": cursor},
        "page 50 (offset)": {"Limit": 50, "Offset": 49 * 50},
        "page 1, sorted by name": {"Limit": 50, "Sort": "name", "Order": "asc"},
        "page 1, Name=bulk-1*": {"Limit": 50, "Name": "bulk-1*"},
    }
    out: dict[str, Any] = {}
    for name, params in cases.items():
        for _ in range(5):
            timed(params)
        out[name] = summary([timed(params)[0] for _ in range(samples)])
    first = session.get(url, params={"Limit": 50}, timeout=30).json()
    page50 = session.get(url, params={"Limit": 50, "Cursor": cursor}, timeout=30).json()
    offset50 = session.get(url, params={"Limit": 50, "Offset": 2450}, timeout=30).json()
    assert [t["Id"] for t in page50] == [t["Id"] for t in offset50] and first[0]["Id"] != page50[0]["Id"]
    out["cursor_of_page_50"] = cursor
    return out


def browser_views(daemon: Daemon, samples: int, cursor: str) -> dict[str, Any]:
    """First views in Chromium, each in a fresh context (no HTTP cache), logged in by its stored session."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        login = browser.new_context(ignore_https_errors=True)
        page = login.new_page()
        page.goto(daemon.url + "/ui/login")
        page.fill("#token", daemon.token or "")
        with page.expect_navigation():
            page.click("button[type=submit]")
        state = login.storage_state()
        login.close()
        views = {
            "/ui/tasks": ("/ui/tasks", "krtasks:table-rendered"),
            "/ui/tasks page 50 (by URL)": (f"/ui/tasks?Cursor={cursor}&Page=50", "krtasks:table-rendered"),
            "/ui/ (overview)": ("/ui/", "krtasks:overview-rendered"),
            # What Chromium and the daemon take for the least page they serve, in the same run: the login form
            # (no script, no data), opened without a session.
            "baseline: /ui/login (no script)": ("/ui/login", "load"),
        }

        daemon_process = psutil.Process(daemon.proc.pid)

        def cpu_seconds() -> float:
            times = daemon_process.cpu_times()
            return float(times.user + times.system)

        def view(page: Any, path: str, mark: str, costs: list[tuple[float, float]] | None = None) -> float:
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            before = cpu_seconds()
            page.goto(daemon.url + path)
            if mark == "load":  # the baseline page has no script: its end of load event
                page.wait_for_load_state("load")
                ms = float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            else:
                # Polled from here: a predicate evaluated in the page would need 'unsafe-eval' (denied by the CSP).
                deadline = time.monotonic() + 30
                while not page.evaluate(f"performance.getEntriesByName('{mark}').length"):
                    assert time.monotonic() < deadline, f"{path}: no {mark}"
                    time.sleep(0.01)
                if "tasks" in path:
                    assert page.evaluate("document.querySelectorAll('#rows tr').length") == 50
                ms = float(page.evaluate(f"performance.getEntriesByName('{mark}')[0].startTime"))
            if costs is not None:
                # The work itself, apart from waiting for a CPU: the renderer's main-thread task time, and the
                # daemon's CPU time over the view (its event stream included).
                metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                costs.append((metrics["TaskDuration"] * 1000, (cpu_seconds() - before) * 1000))
            cdp.detach()
            return ms

        viewport: Any = {"width": 1280, "height": 800}
        for name, (path, mark) in views.items():
            cold, warm = [], []
            costs: list[tuple[float, float]] = []
            for i in range(samples + 2):
                # Cold: a fresh browser context (no HTTP cache, new TLS connections), as a first visit.
                session = None if mark == "load" else state
                context = browser.new_context(ignore_https_errors=True, storage_state=session, viewport=viewport)
                page = context.new_page()
                ms = view(page, path, mark, costs if i >= 2 else None)
                # Warm: the same page opened again in that context (cached files, kept-alive connections).
                again = view(page, path, mark)
                context.close()
                if i >= 2:  # the first two warm the daemon's and the browser's code paths up
                    cold.append(ms)
                    warm.append(again)
            out[name + ", cold"] = summary(cold)
            out[name + ", warm"] = summary(warm)
            out[name + ", cold: renderer main-thread work"] = summary([c[0] for c in costs])
            out[name + ", cold: daemon CPU"] = summary([c[1] for c in costs])
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="krtasks-ui-bench-"))
    load_before = [round(x, 2) for x in os.getloadavg()]
    began = time.perf_counter()
    fill_finished(work / "state", args.tasks, "bulk-")
    filled = time.perf_counter() - began
    daemon = start_daemon(work, "--retention", "0", "--max-finished", "0", "--min-workers", "1")
    try:
        api = api_pages(daemon, args.samples)
        views = browser_views(daemon, max(5, args.samples // 2), api.pop("cursor_of_page_50"))
    finally:
        daemon.close()
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "tasks": args.tasks,
        "fill_seconds": round(filled, 2),
        "api": api,
        "first_view": views,
    }
    out = ROOT / "bench" / "results" / f"ui-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.tasks} tasks in the store (filled in {filled:.1f} s); results in {out.relative_to(ROOT)}")
    print(
        f"load average (1, 5, 15 min) {load_before} before, {result['load_average_after']} after; {os.cpu_count()} CPUs"
    )
    print(f"{'measurement':<62} {'min ms':>8} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    for group in ("api", "first_view"):
        for name, s in result[group].items():
            print(f"{group + ': ' + name:<62} {s['min_ms']:>8} {s['median_ms']:>10} {s['p90_ms']:>8} {s['max_ms']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
