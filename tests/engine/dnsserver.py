"""A real DNS server on loopback for tests: dnslib for the wire format, a UDP socket thread.

It serves a small zone held in memory (see `standard_zone`), answers NXDOMAIN
for unknown names and NOERROR/no data for known names without the type asked,
both with an SOA whose MINIMUM is `negative_ttl`. Names in `servfail` get
SERVFAIL; names in `silent` get no answer at all (the client times out); names in
`truncated` get an empty answer with the TC bit set (and there is no TCP to retry on);
names in `delayed` are answered after that many seconds.
Every question received is appended to `queries` as (name, type).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

from dnslib import AAAA, MX, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord


@dataclass
class Zone:
    # name → list of (type, rdata text or (preference, host) for MX, ttl)
    records: dict[str, list[tuple[str, object, int]]] = field(default_factory=dict)
    servfail: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    truncated: set[str] = field(default_factory=set)
    delayed: dict[str, float] = field(default_factory=dict)
    negative_ttl: int = 30

    def add(self, name: str, rtype: str, rdata: object, ttl: int = 300) -> None:
        self.records.setdefault(_key(name), []).append((rtype, rdata, ttl))

    def mx(self, name: str, *records: tuple[int, str], ttl: int = 300) -> None:
        for record in records:
            self.add(name, "MX", record, ttl)


def _key(name: str) -> str:
    return name.lower().rstrip(".")


def standard_zone() -> Zone:
    """The names the engine tests rely on; all under the reserved `.test` TLD."""
    zone = Zone()
    zone.mx("mx.test", (10, "mx1.mx.test"), (20, "mx2.mx.test"))
    zone.mx("google.test", (1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com"))
    zone.mx("equal.test", (10, "b.mx.test"), (10, "a.mx.test"))
    zone.mx("nullmx.test", (0, "."))
    zone.mx("short.test", (10, "mx.short.test"), ttl=5)
    zone.add("implicit.test", "A", "192.0.2.1")
    zone.add("implicit6.test", "AAAA", "2001:db8::1")
    zone.add("nodata.test", "TXT", "v=spf1 -all")
    zone.servfail.add("servfail.test")
    zone.silent.add("silent.test")
    zone.truncated.add("truncated.test")
    zone.mx("slow.test", (10, "mx.slow.test"))
    zone.delayed["slow.test"] = 3.0
    return zone


class DnsTestServer:
    """Serves a Zone on 127.0.0.1 over UDP, on a free port, from a daemon thread."""

    def __init__(self, zone: Zone | None = None) -> None:
        self.zone = zone or standard_zone()
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.host, self.port = self._socket.getsockname()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-test-server", daemon=True)

    @property
    def address(self) -> str:
        """The "IP:PORT" to give DnsResolver(nameservers=[...]) or `route --nameserver`."""
        return f"{self.host}:{self.port}"

    def start(self) -> DnsTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def count(self, name: str, rtype: str | None = None) -> int:
        return sum(1 for q in self.queries if q[0] == _key(name) and rtype in (None, q[1]))

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.answer(data)
            if reply is None:
                continue
            delay = self.zone.delayed.get(self.queries[-1][0], 0) if self.queries else 0
            if delay:  # answered later, from a timer: the server goes on serving meanwhile
                timer = threading.Timer(delay, self._send, (reply, client))
                timer.daemon = True
                timer.start()
            else:
                self._send(reply, client)

    def _send(self, reply: bytes, client: object) -> None:
        with contextlib.suppress(OSError):  # the client went away, or the server stopped
            self._socket.sendto(reply, client)

    def answer(self, data: bytes) -> bytes | None:
        try:
            request = DNSRecord.parse(data)
        except Exception:  # junk on the wire: a real server would drop it too
            return None
        name = _key(str(request.q.qname))
        rtype = QTYPE[request.q.qtype]
        self.queries.append((name, rtype))
        zone = self.zone
        if name in zone.silent:
            return None
        reply = request.reply()
        if name in zone.truncated:
            reply.header.tc = 1
            return bytes(reply.pack())
        if name in zone.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return bytes(reply.pack())
        records = zone.records.get(name)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for record_type, rdata, ttl in records:
                if record_type == rtype:
                    reply.add_answer(
                        RR(name, QTYPE.reverse[rtype], rdata=_rdata(rtype, rdata), ttl=ttl)
                    )
        if not reply.rr:
            reply.add_auth(
                RR(
                    "test",
                    QTYPE.SOA,
                    rdata=SOA(
                        "ns.test", "hostmaster.test", (1, 3600, 600, 86400, zone.negative_ttl)
                    ),
                    ttl=3600,
                )
            )
        return bytes(reply.pack())


def _rdata(rtype: str, value: object) -> object:
    if rtype == "MX":
        preference, host = value  # type: ignore[misc]
        return MX(host, preference)
    return {"A": A, "AAAA": AAAA, "TXT": TXT}[rtype](value)
