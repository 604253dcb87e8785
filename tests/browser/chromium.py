"""Debian's chromium as the browser tests and bench/browser.py start it (no side effects).

Playwright's own browser download cannot work here: /usr/bin/chromium comes from
`apt-get install -y chromium` (scripts/test.sh). Without the background-networking
flags, chromium's connections are refused by the closed network, many at a time.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
