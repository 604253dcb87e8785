"""A private, real Postfix instance and small SMTP relays on loopback, for tests and benches.

Debian's `postfix` package is installed with debconf answering "No configuration",
so there is no system mail server to disturb: each `PostfixInstance` lives in its
own temporary directory (config, queue, data, log) and listens on a free port of
127.0.0.1. docs/postfix-tests.md explains every setting for a Postfix admin.

Postfix needs root here (`postfix start` runs as root, its daemons drop to the
`postfix` user). The facts that shaped this file:
- `postfix -c DIR` wants DIR listed in `alternate_config_directories` of the
  default instance's /etc/postfix/main.cf (`register_config_directory`).
- There is no syslog socket: `maillog_file` (allowed by `maillog_file_prefixes`)
  and the `postlog` service make every message land in DIR/log/maillog.
- `data_directory` must belong to `postfix`; the `chroot` column of master.cf is
  `n` (a chroot would need copies of /etc files and the agent's socket inside it).
- Postfix daemons run as `postfix`: a Unix socket they use must sit in a directory
  they can traverse (the instance's top directory is 0755).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

POSTFIX_CONFIG = Path("/etc/postfix")
DEFAULT_MAIN_CF = POSTFIX_CONFIG / "main.cf"
SBIN = Path("/usr/sbin")
COMMANDS = ("postfix", "postconf", "postqueue", "postmap", "sendmail", "postsuper")
TEMP_PREFIX = "pfe2e-"
SENDER = "sender@origin.test"


def missing_reason() -> str | None:
    """Why a private Postfix cannot run here, or None when it can."""
    missing = [name for name in COMMANDS if not (SBIN / name).exists()]
    if missing:
        return (
            f"{', '.join(missing)} missing: install Debian's postfix and libsasl2-modules "
            "(scripts/test.sh does this when run as root)"
        )
    if not glob.glob("/usr/lib/*/sasl2/libplain.so*"):
        return (
            "the SASL PLAIN client plugin is missing: install Debian's libsasl2-modules "
            "(scripts/test.sh does this when run as root)"
        )
    if os.geteuid() != 0:
        return "a private Postfix instance must be started as root"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def run(*argv: str | Path, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], check=check, capture_output=True, text=True, timeout=60, **kwargs
    )


# ---------------------------------------------------------------- /etc/postfix/main.cf


@contextlib.contextmanager
def _config_lock() -> Iterator[None]:
    """Serialise edits of /etc/postfix/main.cf between test processes (xdist, benches)."""
    fd = os.open(POSTFIX_CONFIG, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _alternate_directories() -> list[str]:
    value = run(SBIN / "postconf", "-c", POSTFIX_CONFIG, "-h", "alternate_config_directories")
    return [d for d in value.stdout.replace(",", " ").split() if d]


def _set_alternate_directories(directories: list[str]) -> None:
    setting = "alternate_config_directories = " + ", ".join(directories)
    run(SBIN / "postconf", "-c", POSTFIX_CONFIG, "-e", setting)


def register_config_directory(directory: Path) -> None:
    """List `directory` in the default instance's alternate_config_directories.

    Creates a minimal /etc/postfix/main.cf when the package was installed with
    "No configuration". Idempotent; also forgets directories of earlier runs of
    this harness that no longer exist (a crashed run leaves nothing behind).
    """
    with _config_lock():
        if not DEFAULT_MAIN_CF.exists():
            DEFAULT_MAIN_CF.write_text(
                "# Written by the Postfix end-to-end tests (tests/postfix/harness.py): the\n"
                "# package was installed with 'No configuration'. Private test instances\n"
                "# are listed in alternate_config_directories while they run.\n"
            )
        kept = [
            d
            for d in _alternate_directories()
            if not (Path(d).name == "conf" and Path(d).parent.name.startswith(TEMP_PREFIX))
            or Path(d).is_dir()
        ]
        if str(directory) not in kept:
            kept.append(str(directory))
        _set_alternate_directories(kept)


def unregister_config_directory(directory: Path) -> None:
    with _config_lock():
        if DEFAULT_MAIN_CF.exists():
            _set_alternate_directories([d for d in _alternate_directories() if d != str(directory)])


# ---------------------------------------------------------------- relays


@dataclass
class Delivery:
    """One message as a relay received it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    auth_user: str | None
    relay: str


class _Recorder:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        user = auth.decode() if isinstance(auth, bytes) else auth
        delivery = Delivery(
            mail_from=envelope.mail_from or "",
            rcpt_tos=[r.lower() for r in envelope.rcpt_tos],
            content=envelope.original_content or b"",
            auth_user=user if isinstance(user, str) else None,
            relay=self.relay.name,
        )
        self.relay.received(delivery)
        return "250 OK accepted"


class Relay:
    """An aiosmtpd server on 127.0.0.x that records what Postfix hands it.

    With `credentials`, AUTH (PLAIN or LOGIN, without TLS) is required before MAIL,
    and a wrong user or password is refused with 535.
    """

    def __init__(self, name: str, host: str, credentials: tuple[str, str] | None = None) -> None:
        self.name = name
        self.host = host
        self.port = free_port(host)
        self.credentials = credentials
        self.deliveries: list[Delivery] = []
        self.auth_failures: list[str] = []
        self._changed = threading.Condition()
        kwargs: dict[str, Any] = {"auth_require_tls": False}
        if credentials:
            kwargs.update(auth_required=True, authenticator=self._authenticate)
        self._controller = Controller(
            _Recorder(self), hostname=host, port=self.port, ready_timeout=10, **kwargs
        )

    @property
    def address(self) -> str:
        """How a rule names this relay: `127.0.0.x:port`."""
        return f"{self.host}:{self.port}"

    @property
    def nexthop(self) -> str:
        """How Postfix names it: `[127.0.0.x]:port`."""
        return f"[{self.host}]:{self.port}"

    def start(self) -> Relay:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self.credentials:
            user, password = data.login.decode(), data.password.decode()
            if (user, password) == self.credentials:
                return AuthResult(success=True, auth_data=user)
            self.auth_failures.append(user)
        return AuthResult(success=False, handled=False)

    def received(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()

    def messages_to(self, recipient: str) -> list[Delivery]:
        with self._changed:
            return [d for d in self.deliveries if recipient.lower() in d.rcpt_tos]

    def count(self) -> int:
        with self._changed:
            return len(self.deliveries)

    def wait_for_count(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout)


def start_relays(*specs: tuple[str, str, tuple[str, str] | None]) -> dict[str, Relay]:
    return {name: Relay(name, host, creds).start() for name, host, creds in specs}


def unused_address(host: str = "127.0.0.9") -> str:
    """`host:port` where nothing listens: a relay that is down (connection refused)."""
    return f"{host}:{free_port(host)}"


# ---------------------------------------------------------------- Postfix


MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{smtpd_listen} inet n -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def main_cf(base: Path, smtpd_port: int, default_relay: str) -> dict[str, str]:
    """The private instance's main.cf; `default_relay` is Postfix's own route (relayhost)."""
    return {
        "compatibility_level": "3.6",
        "queue_directory": str(base / "queue"),
        "data_directory": str(base / "data"),
        "maillog_file": str(base / "log" / "maillog"),
        "maillog_file_prefixes": str(base / "log"),
        "myhostname": "postfix-e2e.test",
        "mydomain": "postfix-e2e.test",
        "myorigin": "$myhostname",
        # Nothing is delivered locally: every domain is "default" class, routed by
        # transport_maps first, then by relayhost (our "default" relay).
        "mydestination": "",
        "local_recipient_maps": "",
        "alias_maps": "",
        "alias_database": "",
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "mynetworks": "127.0.0.0/8",
        "smtpd_relay_restrictions": "permit_mynetworks, reject",
        "smtpd_recipient_restrictions": "permit_mynetworks, reject",
        "relayhost": default_relay,
        "smtp_host_lookup": "native",
        "smtpd_banner": "$myhostname ESMTP",
        # Outgoing AUTH, without TLS (the relays are on loopback).
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_security_options": "noanonymous",
        "smtp_sasl_password_maps": "",
        "smtp_tls_security_level": "none",
        "transport_maps": "",
        # Fast retries, short timeouts: a deferred message is retried within seconds.
        "queue_run_delay": "1s",
        "minimal_backoff_time": "2s",
        "maximal_backoff_time": "4s",
        "maximal_queue_lifetime": "1h",
        "bounce_queue_lifetime": "1h",
        "smtp_connect_timeout": "5s",
        "smtp_helo_timeout": "10s",
        "qmgr_message_recipient_limit": "20000",
        "default_destination_concurrency_limit": "20",
        "in_flow_delay": "0",
        "smtpd_client_connection_rate_limit": "0",
        "smtpd_client_message_rate_limit": "0",
        "smtpd_error_sleep_time": "0",
        "biff": "no",
        "append_dot_mydomain": "no",
        "notify_classes": "",
    }


@dataclass
class QueuedMessage:
    queue_id: str
    queue_name: str
    sender: str
    recipients: list[str]
    reasons: list[str]


@dataclass
class PostfixInstance:
    """A private Postfix under `base`: `base/conf`, `base/queue`, `base/data`, `base/log`."""

    base: Path
    default_relay: str
    smtpd_port: int = field(default_factory=free_port)
    running: bool = False

    @classmethod
    def create(
        cls, default_relay: str, settings: Mapping[str, str] | None = None
    ) -> PostfixInstance:
        base = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        base.chmod(0o755)  # Postfix daemons (user postfix) reach sockets under it
        instance = cls(base=base, default_relay=default_relay)
        for sub in ("conf", "queue", "data", "log", "maps"):
            (base / sub).mkdir()
        (base / "maps").chmod(0o755)
        shutil.chown(base / "data", "postfix")
        (base / "conf" / "master.cf").write_text(
            MASTER_CF.format(smtpd_listen=f"127.0.0.1:{instance.smtpd_port}")
        )
        (base / "conf" / "main.cf").write_text(
            "# Private Postfix test instance (tests/postfix/harness.py)\n"
        )
        instance.postconf({**main_cf(base, instance.smtpd_port, default_relay), **(settings or {})})
        register_config_directory(instance.config_dir)
        return instance

    @property
    def config_dir(self) -> Path:
        return self.base / "conf"

    @property
    def maillog(self) -> Path:
        return self.base / "log" / "maillog"

    # -- lifecycle

    def start(self) -> PostfixInstance:
        result = run(SBIN / "postfix", "-c", self.config_dir, "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"postfix -c {self.config_dir} start failed ({result.returncode}): "
                f"{result.stdout}{result.stderr}\n{self.log()[-3000:]}"
            )
        self.running = True
        self._wait_for_smtpd()
        return self

    def _wait_for_smtpd(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                smtplib.SMTP("127.0.0.1", self.smtpd_port, timeout=5),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"Postfix did not answer on port {self.smtpd_port}:\n{self.log()}")

    def stop(self) -> None:
        """`postfix stop`, then wait until its master process is gone."""
        if not self.running:
            return
        try:
            pid = int((self.base / "queue" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        run(SBIN / "postfix", "-c", self.config_dir, "stop", check=False)
        self.running = False
        if pid:
            wait_until(lambda: not _alive(pid), 10)

    def destroy(self) -> None:
        self.stop()
        unregister_config_directory(self.config_dir)
        shutil.rmtree(self.base, ignore_errors=True)

    def reload(self) -> None:
        run(SBIN / "postfix", "-c", self.config_dir, "reload")

    # -- configuration

    def postconf(self, settings: Mapping[str, str]) -> None:
        run(
            SBIN / "postconf",
            "-c",
            self.config_dir,
            "-e",
            *(f"{name} = {value}" for name, value in settings.items()),
        )

    def setting(self, name: str) -> str:
        return run(SBIN / "postconf", "-c", self.config_dir, "-h", name).stdout.strip()

    def write_map(self, name: str, entries: Mapping[str, str], kind: str = "hash") -> str:
        """A static lookup table under base/maps; returns its `type:path` for main.cf."""
        path = self.base / "maps" / name
        path.write_text("".join(f"{key} {value}\n" for key, value in entries.items()))
        if kind in ("hash", "btree", "lmdb"):
            run(SBIN / "postmap", "-c", self.config_dir, f"{kind}:{path}")
        return f"{kind}:{path}"

    def query(self, table: str, key: str) -> tuple[int, str]:
        """`postmap -q KEY TABLE` with this instance's config: (exit status, answer).

        Exit status 0: found; 1: not found; anything else: the lookup failed.
        """
        result = run(SBIN / "postmap", "-c", self.config_dir, "-q", key, table, check=False)
        return result.returncode, (result.stdout or result.stderr).strip()

    # -- mail

    def submit(self, recipient: str, subject: str = "test", sender: str = SENDER) -> None:
        """Hand one message to the instance over SMTP, as a client on the LAN would."""
        with smtplib.SMTP("127.0.0.1", self.smtpd_port, timeout=30) as client:
            client.send_message(message(sender, recipient, subject))

    def submit_local(self, recipient: str, subject: str = "test", sender: str = SENDER) -> None:
        """Hand one message to the instance's sendmail (maildrop → pickup → queue).

        Nothing is resolved before the message is queued, so whatever the routing
        answers, the message is in Postfix's queue afterwards.
        """
        run(
            SBIN / "sendmail",
            "-C",
            self.config_dir,
            "-f",
            sender,
            "--",
            recipient,
            input=message(sender, recipient, subject).as_string(),
        )

    def queue(self) -> list[QueuedMessage]:
        """What `postqueue -j` lists (maildrop, incoming, active, deferred, hold)."""
        result = run(SBIN / "postqueue", "-c", self.config_dir, "-j")
        queued = []
        for line in result.stdout.splitlines():
            entry = json.loads(line)
            queued.append(
                QueuedMessage(
                    queue_id=entry["queue_id"],
                    queue_name=entry["queue_name"],
                    sender=entry["sender"],
                    recipients=[r["address"] for r in entry["recipients"]],
                    reasons=[r.get("delay_reason", "") for r in entry["recipients"]],
                )
            )
        return queued

    def queued_for(self, recipient: str) -> list[QueuedMessage]:
        return [m for m in self.queue() if recipient.lower() in map(str.lower, m.recipients)]

    def flush(self) -> None:
        run(SBIN / "postqueue", "-c", self.config_dir, "-f")

    def log(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines_for(self, recipient: str) -> list[str]:
        needle = f"to=<{recipient.lower()}>"
        return [line for line in self.log().splitlines() if needle in line.lower()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def message(sender: str, recipient: str, subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = subject
    mail.set_content(f"{subject}\n")
    return mail


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something true; that value, or None at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_for_delivery(relays: Mapping[str, Relay], recipient: str, timeout: float) -> Delivery:
    """The first delivery of `recipient` at any relay, or AssertionError naming where it is."""
    found = wait_until(
        lambda: [d for relay in relays.values() for d in relay.messages_to(recipient)], timeout
    )
    if not found:
        raise AssertionError(f"{recipient} reached no relay within {timeout:.0f} s")
    return found[0]
