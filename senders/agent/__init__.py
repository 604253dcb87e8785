"""overrides-agent: answers Postfix's table lookups from a sender's export.

Runs on the mail host with no database and no Django: the engine, dnspython,
google-re2 and the standard library. Layers, each usable alone:

- `fetch`: conditional GETs of the export, with the polling schedule;
- `state`: the last good table on disk, written atomically;
- `lookup`: a table and the answers of the `transport` and `sasl` maps (also used
  by "test a message" in the admin);
- `netstring`, `socketmap`: Postfix's socketmap protocol on Unix and TCP sockets;
- `service`: the running agent; `cli`: `overrides-agent serve|check`.

See docs/postfix.md.
"""

from __future__ import annotations

__version__ = "0.1.0"
