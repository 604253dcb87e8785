"""`python -m senders.agent serve|check …` (the same as `overrides-agent`)."""

from __future__ import annotations

import sys

from senders.agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
