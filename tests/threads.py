"""Run jobs in threads that start together: real concurrency against PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def run_at_once(jobs: list[Callable[[], None]], timeout: float = 120) -> list[BaseException]:
    """Start every job at the same moment, each in its own thread and database
    connection; return what they raised (the test decides what is expected)."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        try:
            start.wait(10)
            job()
        except BaseException as error:  # reported to the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors
