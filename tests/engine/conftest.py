from __future__ import annotations

from tests.conftest_dns import dns_server

__all__ = ["dns_server"]
