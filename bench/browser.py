"""The table page in a real browser, at 100, 1,000 and 10,000 rules.

    .venv/bin/python bench/browser.py [--runs N] [--sizes 100,1000,10000]

Debian's chromium (/usr/bin/chromium, driven by Playwright with the browser tests'
arguments) against gunicorn with DEBUG off on a throwaway PostgreSQL database (see
bench/_support.py; BENCH_DATABASE_URL=sqlite for SQLite). Per size it measures, N
times each (best and median):

- page load: navigation start to the `load` event, and to htmx ready (htmx's
  `htmx:load` on <body>, fired once it has set up the page);
- row actions, click to settled DOM (the last htmx swap settled and one frame
  painted): move Up, toggle (Disable), open Edit, Save an edit, Delete (the
  confirmation's button); and the bytes of each action's responses;
- last keystroke in "Add a rule" to the live verdict shown, debounce included;
- last keystroke in "Test a message" to its result, debounce included;
- the bulk editor: navigation to `load`.

Exits 1 when a goal is missed (page load < 500 ms, row actions < 200 ms and
< 20 kB, live verdict < 250 ms, tester < 300 ms, bulk editor < 1 s; best of N).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import ROOT, bench_database, machine, postgres_version, setup_django, verdict

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

PASSWORD = "bench-browser-password"  # a throwaway user in a throwaway database
GOALS_MS = {"load": 500.0, "action": 200.0, "verdict": 250.0, "tester": 300.0, "bulk": 1000.0}
ACTION_BYTES_GOAL = 20_000

# Installed before any page script: when htmx finished setting up the page, and a
# promise that resolves when the DOM has settled after the next htmx exchange.
INIT_SCRIPT = """
window.__bench = {ready: null};
document.addEventListener("htmx:load", function (e) {
  if (e.target === document.body && window.__bench.ready === null) {
    window.__bench.ready = performance.now();
  }
});
window.__benchSettled = function () {
  return new Promise(function (resolve, reject) {
    setTimeout(function () { reject(new Error("nothing settled within 60 s")); }, 60000);
    var pending = 0, last = 0, timer = null;
    function done() {
      requestAnimationFrame(function () { requestAnimationFrame(function () { resolve(last); }); });
    }
    function check() { clearTimeout(timer); if (pending === 0) timer = setTimeout(done, 30); }
    var on = function (name, f) { document.addEventListener(name, f); };
    on("htmx:beforeRequest", function () { pending++; clearTimeout(timer); });
    on("htmx:afterRequest", function () { pending--; last = performance.now(); check(); });
    on("htmx:afterSettle", function () { last = performance.now(); check(); });
  });
};
"""


@dataclass
class Series:
    name: str
    goal_ms: float
    times: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.times) if self.times else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def bytes(self) -> int:
        return max(self.sizes) if self.sizes else 0

    @property
    def ok(self) -> bool:
        if not self.times:
            return False
        fits = (
            not self.sizes
            or self.name.startswith(("page", "bulk"))
            or (self.bytes < ACTION_BYTES_GOAL)
        )
        return self.best < self.goal_ms and fits


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(database_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "0", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "overrides_admin.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", "1", "--threads", "2", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def seed(sizes: list[int]) -> None:
    from _support import table_document
    from django.contrib.auth import get_user_model

    from senders import tables
    from senders.models import MailSender
    from senders.tabletext import parse_document

    get_user_model().objects.create_superuser("bench", "bench@example.com", PASSWORD)
    for size in sizes:
        sender = MailSender.objects.create(name=f"{size} rules", slug=f"s{size}")
        tables.replace_table(sender, parse_document(table_document(size)), actor=tables.Actor())


class Bench:
    def __init__(self, page: Any, base: str, runs: int) -> None:
        self.page, self.base, self.runs = page, base, runs
        self.bodies: list[int] = []
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.request.resource_type in ("xhr", "fetch"):
            with contextlib.suppress(Exception):  # a redirect has no body to read
                self.bodies.append(len(response.body()))

    def navigate(self, url: str) -> tuple[float, float]:
        """Milliseconds from navigation start to `load`, and to htmx ready."""
        self.page.goto(self.base + url, wait_until="load")
        self.page.wait_for_function("window.__bench && window.__bench.ready !== null")
        load = self.page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        ready = self.page.evaluate("window.__bench.ready")
        return float(load), float(max(load, ready))

    def click(self, locator: Any) -> tuple[float, int]:
        """Click → settled DOM in ms, and the bytes of the responses it caused."""
        if os.environ.get("BENCH_VERBOSE"):
            print("   click", locator, flush=True)
        self.page.evaluate("() => { window.__settled = window.__benchSettled(); }")
        self.bodies = []
        self.page.evaluate("window.__clickAt = 0")
        locator.evaluate(
            "el => el.addEventListener('click', () => { window.__clickAt = performance.now() },"
            " {capture: true, once: true})"
        )
        locator.click()
        settled = self.page.evaluate("window.__settled")
        self.page.wait_for_timeout(50)  # late response bodies are read
        return float(settled) - float(self.page.evaluate("window.__clickAt")), sum(self.bodies)

    def typed(self, field: Any, text: str, shown: str) -> float:
        """Last keystroke → the element `shown` changed (and a frame painted), in ms."""
        field.fill(text[:-1])
        self.page.wait_for_timeout(700)  # let earlier answers land
        self.page.evaluate(
            """sel => { window.__changed = new Promise(resolve => {
                 var el = document.querySelector(sel), t0 = 0;
                 document.addEventListener('keydown', () => { t0 = performance.now() },
                   {capture: true, once: true});
                 new MutationObserver((m, o) => { o.disconnect();
                   requestAnimationFrame(() => resolve(performance.now() - t0)) })
                 .observe(el, {childList: true, subtree: true, characterData: true});
                 setTimeout(() => resolve(NaN), 20000);
               }) }""",
            shown,
        )
        field.press(text[-1])
        return float(self.page.evaluate("window.__changed"))


def measure_size(bench: Bench, size: int, runs: int) -> Iterator[Series]:
    page = bench.page
    table = f"/senders/s{size}/"
    load, ready = Series("page load", GOALS_MS["load"]), Series("page htmx ready", GOALS_MS["load"])
    for _ in range(runs):
        a, b = bench.navigate(table)
        load.times.append(a)
        ready.times.append(b)
    yield load
    yield ready

    def row_button(name: str) -> Any:
        return page.get_by_role("button", name=name, exact=True)

    def repeat(series: Series, action: Callable[[], tuple[float, int]]) -> Series:
        for _ in range(runs):
            elapsed, size_ = action()
            series.times.append(elapsed)
            series.sizes.append(size_)
        return series

    bench.navigate(table)
    state = {"up": True}

    def move() -> tuple[float, int]:
        # Rule 3 up to 2, then rule 2 down to 3: the same rule, back and forth.
        name = "Move rule 3 up" if state["up"] else "Move rule 2 down"
        state["up"] = not state["up"]
        return bench.click(row_button(name))

    yield repeat(Series("move Up/Down", GOALS_MS["action"]), move)

    def toggle() -> tuple[float, int]:
        button = page.get_by_role("button", name="Disable rule 4", exact=True)
        if not button.count():
            button = page.get_by_role("button", name="Enable rule 4", exact=True)
        return bench.click(button)

    yield repeat(Series("toggle", GOALS_MS["action"]), toggle)

    opens = Series("open Edit", GOALS_MS["action"])
    saves = Series("save an edit", GOALS_MS["action"])
    for run in range(runs):
        opens.times.append(0)
        elapsed, size_ = bench.click(page.get_by_role("link", name="Edit rule 5", exact=True))
        opens.times[-1], opens.sizes = elapsed, [*opens.sizes, size_]
        page.get_by_label("Comment").first.fill(f"edited {run}")
        elapsed, size_ = bench.click(page.get_by_role("button", name="Save rule 5", exact=True))
        saves.times.append(elapsed)
        saves.sizes.append(size_)
    yield opens
    yield saves

    deletes = Series("delete (confirm)", GOALS_MS["action"])
    for _ in range(runs):
        bench.click(page.get_by_role("link", name="Delete rule 6", exact=True))
        elapsed, size_ = bench.click(page.get_by_role("button", name="Delete rule 6", exact=True))
        deletes.times.append(elapsed)
        deletes.sizes.append(size_)
    yield deletes

    verdicts = Series("keystroke → live verdict", GOALS_MS["verdict"])
    field = page.get_by_label("Rule", exact=True).last
    for run in range(runs):
        verdicts.times.append(
            bench.typed(field, f"bench{run}.example smtp.example.net:58{run}", "#add-text-verdict")
        )
    yield verdicts

    tester = Series("keystroke → tester result", GOALS_MS["tester"])
    page.goto(bench.base + f"/senders/s{size}/test/")
    recipient = page.get_by_label("Recipient address(es)")
    for run in range(runs):
        tester.times.append(bench.typed(recipient, f"someone@customer{run + 10}.example", "main"))
    yield tester

    bulk = Series("bulk editor load", GOALS_MS["bulk"])
    for _ in range(runs):
        page.goto(bench.base + f"/senders/s{size}/bulk/", wait_until="load")
        bulk.times.append(
            float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        )
    yield bulk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from playwright.sync_api import sync_playwright

    with bench_database("browser") as url:
        setup_django(url)
        seed(sizes)
        server_label = "SQLite" if url.startswith("sqlite") else postgres_version(url)
        print(f"machine: {machine()}, {server_label}, gunicorn DEBUG off, {CHROMIUM}")
        ok = True
        with gunicorn(url) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=base)
            context.add_init_script(INIT_SCRIPT)
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(base + "/accounts/login/")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state("load")
            bench = Bench(page, base, args.runs)
            for size in sizes:
                print(f"\n{size:,} rules (best / median of {args.runs}; goal)")
                try:
                    for series in measure_size(bench, size, args.runs):
                        ok &= series.ok
                        extra = f", {series.bytes / 1000:.1f} kB" if series.sizes else ""
                        print(
                            f"  {series.name:<28} {series.best:8.0f} ms / {series.median:6.0f} ms"
                            f"{extra}  (< {series.goal_ms:.0f} ms)  {verdict(series.ok)}",
                            flush=True,
                        )
                except Exception as error:  # report it, go on with the next size
                    ok = False
                    print(f"  FAIL: the next step broke off: {str(error).splitlines()[0]}")
            browser.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
