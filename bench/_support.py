"""What the Django benchmarks share: the machine, a throwaway database, a 10,000-rule table.

Each benchmark creates its own PostgreSQL database (named after the benchmark and
the process id, so two runs never collide), migrates it, and drops it when it
ends, however it ends. The server it talks to comes from BENCH_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/overrides_bench; only the server and
credentials are used, the database name is the benchmark's own). Set
BENCH_DATABASE_URL=sqlite to run on a throwaway SQLite file instead.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/overrides_bench"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def best_of(runs: int, action: Callable[[], object]) -> float:
    """The fastest of `runs` timed calls, in seconds: the machine is shared and noisy."""
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024**2:.1f} GiB memory"
    load = ""
    with contextlib.suppress(OSError):
        load = f", load average {os.getloadavg()[0]:.1f}"
    return f"{os.cpu_count()} CPUs ({model}){memory}, Python {platform.python_version()}{load}"


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(_conninfo(url, "postgres"), autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def _conninfo(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextlib.contextmanager
def bench_database(name: str) -> Iterator[str]:
    """A fresh, migrated-by-the-caller database for one benchmark; yields its URL.

    SIGTERM is turned into SystemExit so that the database is dropped on `kill` too.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)
    if server == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"overrides-{name}-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    import psycopg

    database = f"overrides_bench_{name}_{os.getpid()}"
    admin = _conninfo(server, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield _conninfo(server, database)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def setup_django(database_url: str, **environ: str) -> None:
    """Settings as in production where it matters (DEBUG off), for this database."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "overrides_admin.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.update(environ)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def migrate_with_manage(database_url: str, environ: dict[str, str]) -> None:
    """Migrate through manage.py (for a server started in another process)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **environ, "DATABASE_URL": database_url},
        check=True,
    )


def table_document(size: int, seed: int = 6) -> str:
    """A realistic table document of `size` rules (the engine benchmark's mix), with a
    comment above every 25th rule and every 100th rule disabled."""
    from engine import make_table

    text, _ = make_table(size, random.Random(seed))
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number % 25 == 0:
            out.append(f"# rule {number}: agreed with the customer")
        out.append(f"#disabled: {line}" if number % 100 == 0 else line)
    return "\n".join(out) + "\n"
