"""The export under load: gunicorn (production settings, PostgreSQL, 2 workers) and wrk.

    .venv/bin/python bench/export.py [--seconds S] [--rounds R] [--connections C]

Creates a throwaway PostgreSQL database (bench/_support.py), seeds a sender with a
1,000-rule table and an export token, starts gunicorn on a free loopback port with
PRODUCTION=1 (plain HTTP on loopback: SECURE_HTTPS=0) and BENCHMARK_CEILING_VIEW=1,
then drives it with wrk, in rounds, each endpoint for S seconds:

- ceiling, same size: /bench/ceiling?size=<bytes of the export>, a constant body
  through the same middleware: the best any view of this app can do for that size;
- ceiling, empty: /bench/ceiling?size=0, the yardstick for the 304 answer;
- ceiling + 1 query: the same-size ceiling sending `SELECT 1` first: what the one
  database round trip a poll needs costs (not a goal, an explanation);
- export: GET /export/<slug>.txt with the Bearer token;
- 304: the same with If-None-Match: <its ETag>.

Prints requests/s and p99 latency per run, and the ratios against the goals (the
median over the rounds of each round's ratio): export >= 0.8x the same-size
ceiling, 304 >= 0.9x the empty ceiling, zero errors (non-2xx/3xx answers and
socket errors). Exits 1 when a goal is missed. Needs
Debian's `wrk`: installed with apt-get when missing and running as root.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    ROOT,
    bench_database,
    machine,
    postgres_version,
    setup_django,
    table_document,
    verdict,
)

RULES = 1_000
GOAL_EXPORT = 0.8
GOAL_304 = 0.9


@dataclass
class Run:
    requests_per_second: float
    p99_ms: float
    requests: int
    errors: int
    error_text: str


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing Debian's wrk with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        quiet = {"stdout": subprocess.DEVNULL, "env": env}
        if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, **quiet)
        found = shutil.which("wrk")
    if not found:
        sys.exit(
            "bench/export.py needs wrk (the HTTP load generator, Debian package `wrk`): "
            "install it with `sudo apt-get install wrk`, or run this as root to have it "
            "installed."
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped (exit {server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if fetch(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")


def parse_wrk(output: str) -> Run:
    rate = re.search(r"Requests/sec:\s*([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\b", output, re.MULTILINE)
    if not (rate and total and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    problems = []
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output):
        errors += int(found.group(1))
        problems.append(found.group(0))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in found.groups())
        problems.append(found.group(0))
    return Run(
        float(rate.group(1)), float(p99.group(1)) * scale, int(total.group(1)), errors,
        "; ".join(problems),
    )  # fmt: skip


def drive(wrk: str, url: str, headers: list[str], seconds: int, connections: int) -> Run:
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    return parse_wrk(done.stdout)


def seed() -> tuple[str, str]:
    """A sender with a 1,000-rule table and an export token: (slug, token)."""
    from django.db import connections

    from senders.export import create_token
    from senders.models import MailSender, Revision
    from senders.tables import Actor, replace_table
    from senders.tabletext import parse_document

    sender = MailSender.objects.create(name="Bench", slug="bench")
    entries = parse_document(table_document(RULES))
    replace_table(sender, entries, actor=Actor(source=Revision.Source.COMMAND))
    sender.refresh_from_db()
    token = create_token(sender)
    connections.close_all()
    return sender.slug, token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="wrk run per endpoint and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the goals: profile 2,000 polls in-process with pyinstrument",
    )
    args = parser.parse_args()
    wrk = "" if args.profile else ensure_wrk()
    if os.environ.get("BENCH_DATABASE_URL") == "sqlite":
        sys.exit("bench/export.py runs on PostgreSQL only (as in production)")

    environ = {
        "PRODUCTION": "1",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no redirect to HTTPS, no secure-only cookies.
        "SECURE_HTTPS": "0",
        "SECURE_SSL_REDIRECT": "0",
        "BENCHMARK_CEILING_VIEW": "1",
        "LOG_LEVEL": "WARNING",
    }
    with bench_database("export") as url:
        setup_django(url, **environ)
        slug, token = seed()
        if args.profile:
            return profile(slug, token)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory(prefix="overrides-export-bench-") as folder:
            log = Path(folder) / "gunicorn.log"
            with log.open("wb") as log_file:
                gunicorn = [sys.executable, "-m", "gunicorn", "overrides_admin.wsgi:application"]
                gunicorn += ["--workers", "2", "--bind", f"127.0.0.1:{port}"]
                server = subprocess.Popen(
                    [*gunicorn, "--log-level", "warning"],
                    cwd=ROOT,
                    env={**os.environ, **environ, "DATABASE_URL": url},
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    wait_until_up(f"{base}/bench/ceiling", server, log)
                    return run(wrk, base, slug, token, url, args)
                finally:
                    os.killpg(server.pid, signal.SIGTERM)
                    try:
                        server.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        os.killpg(server.pid, signal.SIGKILL)
                        server.wait()


def run(wrk: str, base: str, slug: str, token: str, url: str, args: argparse.Namespace) -> int:
    auth = f"Authorization: Bearer {token}"
    export_url = f"{base}/export/{slug}.txt"
    status, body, headers = fetch(export_url, {"Authorization": f"Bearer {token}"})
    if status != 200:
        sys.exit(f"the export answered {status}: {body[:500]!r}")
    etag = headers["ETag"]
    status, _, _ = fetch(export_url, {"Authorization": f"Bearer {token}", "If-None-Match": etag})
    if status != 304:
        sys.exit(f"the export with If-None-Match answered {status}, not 304")
    endpoints = {
        "ceiling, same size": (f"{base}/bench/ceiling?size={len(body)}", []),
        "ceiling, empty": (f"{base}/bench/ceiling?size=0", []),
        "ceiling + 1 query": (f"{base}/bench/ceiling?size={len(body)}&query=1", []),
        "export (200)": (export_url, [auth]),
        "export (304)": (export_url, [auth, f"If-None-Match: {etag}"]),
    }
    print(f"machine: {machine()}")
    print(f"database: {postgres_version(url)}; gunicorn 2 sync workers on {base}")
    print(
        f"export of {RULES:,} rules: {len(body):,} bytes; wrk -t1 -c{args.connections}; "
        f"{args.rounds} rounds, each running every endpoint for {args.seconds} s in turn"
    )
    print()
    # Warm both workers (each has its own cache) before measuring.
    for target, headers in endpoints.values():
        drive(wrk, target, headers, 1, args.connections)
    runs: dict[str, list[Run]] = {name: [] for name in endpoints}
    for round_number in range(1, args.rounds + 1):
        for name, (target, headers) in endpoints.items():
            result = drive(wrk, target, headers, args.seconds, args.connections)
            runs[name].append(result)
            print(
                f"round {round_number}  {name:<20} {result.requests_per_second:>9,.0f} req/s"
                f"  p99 {result.p99_ms:>7.2f} ms  {result.requests:>7,} requests"
                f"  {result.errors} errors {result.error_text}",
                flush=True,
            )
    print()
    header = f"{'endpoint':<22} {'best req/s':>10} {'median':>9} {'p99 ms (median)':>16}"
    print(f"{header} {'errors':>7}")
    for name, results in runs.items():
        rates = [r.requests_per_second for r in results]
        print(
            f"{name:<22} {max(rates):>10,.0f} {statistics.median(rates):>9,.0f} "
            f"{statistics.median(r.p99_ms for r in results):>16.2f} "
            f"{sum(r.errors for r in results):>7}"
        )
    print()
    print(
        "Ratios: the median over the rounds of each round's ratio (the two runs compared "
        "are seconds apart, so a busy moment of this shared machine hits both)."
    )

    def ratio(name: str, ceiling: str) -> float:
        return statistics.median(
            a.requests_per_second / b.requests_per_second
            for a, b in zip(runs[name], runs[ceiling], strict=True)
        )

    ok = True
    for name, ceiling, goal in (
        ("export (200)", "ceiling, same size", GOAL_EXPORT),
        ("export (304)", "ceiling, empty", GOAL_304),
    ):
        value = ratio(name, ceiling)
        ok &= value >= goal
        print(f"{name} / {ceiling}: {value:.2f}x; goal >= {goal}x: {verdict(value >= goal)}")
    for name, ceiling in (
        ("export (200)", "ceiling, empty"),
        ("ceiling + 1 query", "ceiling, same size"),
        ("export (200)", "ceiling + 1 query"),
    ):
        print(f"  for comparison: {name} / {ceiling}: {ratio(name, ceiling):.2f}x")
    print()
    in_process(endpoints, base)
    total_errors = sum(r.errors for results in runs.values() for r in results)
    ok &= total_errors == 0
    print(f"errors in all runs: {total_errors}; goal 0: {verdict(total_errors == 0)}")
    print()
    print("all goals met" if ok else "a goal was missed")
    return 0 if ok else 1


def profile(slug: str, token: str) -> int:
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    from django.test import Client

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"Authorization": f"Bearer {token}"}
    client.get(f"/export/{slug}.txt", headers=headers)
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(2_000):
        client.get(f"/export/{slug}.txt", headers=headers)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False))
    return 0


def in_process(endpoints: dict[str, tuple[str, list[str]]], base: str) -> None:
    """Where a request's time goes, without gunicorn, HTTP and wrk: the same requests
    through Django's test client in this process (same settings and database)."""
    from django.test import Client

    # Production settings expect collectstatic's folder; these views serve no static file.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    client = Client(HTTP_HOST="127.0.0.1")
    print("in-process server time per request (Django test client, best of 1,000):")
    for name, (target, headers) in endpoints.items():
        header = dict(h.split(": ", 1) for h in headers)
        path = target.removeprefix(base)
        status = client.get(path, headers=header).status_code
        times = []
        for _ in range(1_000):
            started = time.perf_counter()
            client.get(path, headers=header)
            times.append(time.perf_counter() - started)
        print(f"  {name:<22} {min(times) * 1000:>6.3f} ms  (HTTP {status})")


if __name__ == "__main__":
    sys.exit(main())
