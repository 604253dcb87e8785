"""MX lookups: the Resolver protocol, a dnspython resolver with a TTL cache, a static one.

A lookup never raises: every outcome, temporary failures included, is an MxAnswer.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from senders.engine.match import InvalidValue, normalise_domain, normalise_host

MxKind = Literal["mx", "implicit", "null", "nxdomain", "nodata", "tempfail"]

# Negative answers without an SOA are kept this long; RFC 2308 caps them at 3 hours.
DEFAULT_NEGATIVE_TTL = 60
MAX_NEGATIVE_TTL = 3 * 3600
MAX_TTL = 24 * 3600


@dataclass(frozen=True, slots=True)
class MxAnswer:
    """The outcome of a lookup.

    kind:
      - "mx": published MX records (`records`, null-MX entries removed)
      - "implicit": no MX but an A/AAAA record: `records` is ((0, domain),)
      - "null": a null MX (RFC 7505), the domain accepts no mail
      - "nxdomain": the domain does not exist
      - "nodata": the domain exists but has no record of the type asked
      - "tempfail": no answer could be had (timeout, SERVFAIL); `reason` says why
    """

    kind: MxKind
    records: tuple[tuple[int, str], ...] = ()
    reason: str = ""

    @property
    def hosts(self) -> tuple[str, ...]:
        """The published MX host names ($dnsmx looks at these only)."""
        return tuple(host for _, host in self.records) if self.kind == "mx" else ()


class Resolver(Protocol):
    def lookup_mx(self, domain: str) -> MxAnswer:
        """MX records of `domain`: kind mx, null, nxdomain, nodata or tempfail."""
        ...

    def lookup_implicit_mx(self, domain: str) -> MxAnswer:
        """Whether `domain` has an A or AAAA record: kind implicit, nxdomain, nodata or tempfail."""
        ...


def _mx_answer(records: Iterable[tuple[int, str]]) -> MxAnswer:
    """Published MX records → an answer; a "." exchange is a null MX (RFC 7505)."""
    records = list(records)
    usable = tuple(sorted((preference, host) for preference, host in records if host != "."))
    if usable:
        return MxAnswer("mx", usable)
    return MxAnswer("null") if records else MxAnswer("nodata")


# ---------------------------------------------------------------- static


class StaticResolver:
    """MX records typed in by hand, for the web test view and for unit tests.

    `mx` maps a domain to its MX records (an empty list: the domain exists
    without MX; `[(0, ".")]`: a null MX). `addresses` lists domains with an A or
    AAAA record. Other domains do not exist. Lookups of domains in `failing` fail
    temporarily, those in `failing_addresses` only for A/AAAA. Every lookup is
    appended to `queries` as ("MX" | "A/AAAA", domain).
    """

    def __init__(
        self,
        mx: Mapping[str, Sequence[tuple[int, str]]] | None = None,
        addresses: Iterable[str] = (),
        *,
        failing: Iterable[str] = (),
        failing_addresses: Iterable[str] = (),
    ) -> None:
        self._mx = {
            normalise_domain(domain): [(preference, _record_host(host)) for preference, host in rrs]
            for domain, rrs in (mx or {}).items()
        }
        self._addresses = {normalise_domain(domain) for domain in addresses}
        self._failing = {normalise_domain(domain) for domain in failing}
        self._failing_addresses = {normalise_domain(domain) for domain in failing_addresses}
        self.queries: list[tuple[str, str]] = []

    def lookup_mx(self, domain: str) -> MxAnswer:
        self.queries.append(("MX", domain))
        if domain in self._failing:
            return MxAnswer("tempfail", reason="SERVFAIL")
        if domain in self._mx:
            return _mx_answer(self._mx[domain])
        return MxAnswer("nodata") if domain in self._addresses else MxAnswer("nxdomain")

    def lookup_implicit_mx(self, domain: str) -> MxAnswer:
        self.queries.append(("A/AAAA", domain))
        if domain in self._failing or domain in self._failing_addresses:
            return MxAnswer("tempfail", reason="SERVFAIL")
        if domain in self._addresses:
            return MxAnswer("implicit", ((0, domain),))
        return MxAnswer("nodata") if domain in self._mx else MxAnswer("nxdomain")


def _record_host(host: str) -> str:
    if host.strip() == ".":
        return "."
    try:
        return normalise_host(host.strip())
    except InvalidValue as error:
        raise ValueError(f'invalid MX host "{host}": {error.message}') from None


def parse_mx_records(text: str) -> list[tuple[int, str]]:
    """`10 mx1.example.com` lines (or zone-file lines with `MX`) → [(10, "mx1.example.com")].

    Blank lines and `#`/`;` comments are skipped; `0 .` is a null MX.
    Raises ValueError naming the line.
    """
    records: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        tokens = line.split()
        upper = [token.upper() for token in tokens]
        if "MX" in upper:
            tokens = tokens[upper.index("MX") + 1 :]
        if len(tokens) != 2:
            raise ValueError(
                f'line {number}: expected "<preference> <host>", e.g. "10 mx1.example.com"'
            )
        preference, host = tokens
        if not (preference.isascii() and preference.isdigit()) or int(preference) > 65535:
            raise ValueError(f'line {number}: preference "{preference}" is not a number 0-65535')
        try:
            records.append((int(preference), _record_host(host)))
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
    return records


# ---------------------------------------------------------------- DNS


def parse_nameserver(text: str) -> tuple[str, int]:
    """`IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address → (address, port)."""
    problem = f'invalid name server "{text}" (expected IP, IP:PORT or [IPv6]:PORT)'
    address, port = text.strip(), "53"
    if address.startswith("["):
        address, _, rest = address[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(problem)
            port = rest[1:]
    elif address.count(":") == 1:
        address, _, port = address.partition(":")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(problem) from None
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(problem)
    return str(ip), int(port)


class TimeBoundResolver:
    """Bounds the DNS time of one piece of work: once `seconds` have passed, a lookup fails
    temporarily (so the result is `defer`, with `reason`) instead of waiting for yet
    another timeout."""

    def __init__(
        self,
        resolver: Resolver,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        reason: str = "the time allowed for DNS lookups ran out",
    ) -> None:
        self._resolver = resolver
        self._clock = clock
        self._deadline = clock() + seconds
        self._reason = reason

    def lookup_mx(self, domain: str) -> MxAnswer:
        return self._ask(self._resolver.lookup_mx, domain)

    def lookup_implicit_mx(self, domain: str) -> MxAnswer:
        return self._ask(self._resolver.lookup_implicit_mx, domain)

    def _ask(self, lookup: Callable[[str], MxAnswer], domain: str) -> MxAnswer:
        if self._clock() >= self._deadline:
            return MxAnswer("tempfail", reason=self._reason)
        return lookup(domain)


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: Literal["records", "nxdomain", "nodata", "tempfail"]
    records: tuple[tuple[int, str], ...] = ()  # (MX preference or 0, name)
    reason: str = ""


class DnsResolver:
    """Real lookups with dnspython, and an in-memory LRU cache honouring TTLs.

    `nameservers` are "IP", "IP:PORT" or "[IPv6]:PORT"; empty means the system's
    resolver configuration. `timeout` bounds each lookup in seconds. Negative
    answers are kept per the SOA minimum (RFC 2308), or DEFAULT_NEGATIVE_TTL
    without an SOA; temporary failures are not cached.
    """

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        timeout: float = 5.0,
        cache_size: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        servers = [parse_nameserver(server) for server in nameservers]
        self.timeout = timeout
        self._broken = ""
        try:
            self._resolver = dns.resolver.Resolver(configure=not servers)
        except dns.exception.DNSException as error:  # no /etc/resolv.conf, say
            self._resolver = dns.resolver.Resolver(configure=False)
            self._broken = f"no name server configured ({error})"
        if servers:
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(address, port) for address, port in servers
            ]
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        self._resolver.cache = None
        self._cache: OrderedDict[tuple[str, str], tuple[float, _Outcome]] = OrderedDict()
        self._cache_size = cache_size
        self._clock = clock
        self._lock = threading.Lock()

    def lookup_mx(self, domain: str) -> MxAnswer:
        outcome = self._lookup(domain, "MX")
        if outcome.kind == "records":
            return _mx_answer(outcome.records)
        return MxAnswer(outcome.kind, reason=outcome.reason)

    def lookup_implicit_mx(self, domain: str) -> MxAnswer:
        first = self._lookup(domain, "A")
        if first.kind in ("records", "nxdomain"):
            return _implicit(first, domain)
        second = self._lookup(domain, "AAAA")
        if second.kind == "records" or first.kind != "tempfail":
            return _implicit(second, domain)
        return _implicit(first, domain)

    def _lookup(self, domain: str, rdtype: str) -> _Outcome:
        key = (rdtype, domain)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                if cached[0] > self._clock():
                    self._cache.move_to_end(key)
                    return cached[1]
                del self._cache[key]
        outcome, ttl = self._query(domain, rdtype)
        if ttl > 0 and self._cache_size > 0:
            with self._lock:
                self._cache[key] = (self._clock() + ttl, outcome)
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return outcome

    def _query(self, domain: str, rdtype: str) -> tuple[_Outcome, float]:
        """One query → (outcome, seconds it may be cached)."""
        if self._broken:
            return _Outcome("tempfail", reason=self._broken), 0
        try:
            name = dns.name.from_text(domain)
        except dns.exception.DNSException:
            return _Outcome("nxdomain", reason="not a valid domain name"), DEFAULT_NEGATIVE_TTL
        try:
            answer = self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as error:
            responses = error.kwargs.get("responses") or {}
            ttl = min((_negative_ttl(r) for r in responses.values()), default=DEFAULT_NEGATIVE_TTL)
            return _Outcome("nxdomain"), ttl
        except dns.resolver.YXDOMAIN:
            return _Outcome("nxdomain", reason="name too long"), DEFAULT_NEGATIVE_TTL
        except dns.resolver.NoNameservers as error:
            return _Outcome("tempfail", reason=_failure_of(error)), 0
        except dns.exception.Timeout:
            return _Outcome("tempfail", reason=f"no answer within {self.timeout:g} s"), 0
        except (dns.exception.DNSException, OSError, ValueError) as error:
            return _Outcome("tempfail", reason=str(error) or type(error).__name__), 0
        if answer.rrset is None:
            return _Outcome("nodata"), _negative_ttl(answer.response)
        ttl = min(answer.rrset.ttl, answer.chaining_result.minimum_ttl, MAX_TTL)
        if rdtype == "MX":
            records = tuple(
                (rr.preference, rr.exchange.to_text(omit_final_dot=True).lower() or ".")
                for rr in answer.rrset
            )
        else:
            records = tuple((0, rr.to_text()) for rr in answer.rrset)
        return _Outcome("records", records), ttl


def _implicit(outcome: _Outcome, domain: str) -> MxAnswer:
    if outcome.kind == "records":
        return MxAnswer("implicit", ((0, domain),))
    return MxAnswer(outcome.kind, reason=outcome.reason)


def _negative_ttl(response: dns.message.Message | None) -> float:
    """RFC 2308: the SOA record's TTL, bounded by its MINIMUM field."""
    if response is not None:
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                return float(min(rrset.ttl, rrset[0].minimum, MAX_NEGATIVE_TTL))
    return DEFAULT_NEGATIVE_TTL


def _failure_of(error: dns.resolver.NoNameservers) -> str:
    """What the name servers said: "SERVFAIL", "REFUSED", or the I/O error."""
    seen: list[str] = []
    for entry in error.kwargs.get("errors") or []:
        response = entry[4] if len(entry) > 4 else None
        text = dns.rcode.to_text(response.rcode()) if response is not None else str(entry[3])
        if text not in seen:
            seen.append(text)
    return ", ".join(seen) or "no name server answered"
