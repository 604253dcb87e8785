"""The last good table on disk, and what the last fetch gave (for `overrides-agent check`).

`table.json` holds the export body exactly as fetched, with its ETag, revision and
the time it was saved; it is written to a temporary file in the same directory,
fsynced, renamed over the old one and the directory fsynced, so a crash leaves
either the old table or the new one, never half of one. It holds relay passwords:
mode 0600. `status.json` holds the result of the serving agent's last fetch.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from senders.agent.export import BadExport, Kind, read_export
from senders.engine import Rule

TABLE_FILE = "table.json"
STATUS_FILE = "status.json"


class StateError(Exception):
    """The state directory cannot be used (the message says why)."""


@dataclass(frozen=True, slots=True)
class Saved:
    body: bytes
    kind: Kind
    etag: str | None
    revision: int | None
    saved_at: float
    url: str


@dataclass(frozen=True, slots=True)
class FetchStatus:
    at: float
    ok: bool
    text: str  # "200, revision 7", "304 not modified (revision 7)", "HTTP 401 …"
    revision: int | None = None


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so that readers see the old or the new content, whole."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class StateStore:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def prepare(self) -> None:
        """Create the directory (0700) if needed; StateError if it is not writable."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(
                f"cannot create the state directory {self.directory}: {_why(error)}"
            ) from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise StateError(f"the state directory {self.directory} is not writable")

    @property
    def table_path(self) -> Path:
        return self.directory / TABLE_FILE

    def save(self, saved: Saved) -> None:
        record: dict[str, Any] = asdict(saved)
        record["body"] = saved.body.decode("utf-8")
        atomic_write(self.table_path, (json.dumps(record, indent=1) + "\n").encode("utf-8"))

    def load(self) -> tuple[Saved, list[Rule]] | None:
        """The saved table and its rules; None if there is none. StateError if it is unusable."""
        try:
            raw = self.table_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(f"cannot read {self.table_path}: {_why(error)}") from None
        try:
            record = json.loads(raw)
            saved = Saved(
                body=record["body"].encode("utf-8"),
                kind="json" if record["kind"] == "json" else "txt",
                etag=record.get("etag"),
                revision=record.get("revision"),
                saved_at=float(record["saved_at"]),
                url=str(record.get("url", "")),
            )
            rules = read_export(saved.body, saved.kind, saved.etag)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            what = error if isinstance(error, BadExport) else "not a saved table"
            raise StateError(f"{self.table_path} is unusable: {what}") from None
        return saved, rules

    def save_status(self, status: FetchStatus) -> None:
        data = json.dumps(asdict(status)).encode("utf-8") + b"\n"
        atomic_write(self.directory / STATUS_FILE, data, mode=0o644)

    def load_status(self) -> FetchStatus | None:
        try:
            record = json.loads((self.directory / STATUS_FILE).read_bytes())
            return FetchStatus(
                at=float(record["at"]),
                ok=bool(record["ok"]),
                text=str(record["text"]),
                revision=record.get("revision"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _why(error: OSError) -> str:
    return error.strerror or str(error)


def now() -> float:
    return time.time()
