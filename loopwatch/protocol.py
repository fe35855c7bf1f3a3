"""The loopwatch OSC protocol: addresses, argument types, encoding and validation.

This module is the single source of truth for ``docs/osc.md``; the Max for
Live device and the REAPER scripts are tested against it. It only builds and
parses datagrams; sockets live in :mod:`loopwatch.transport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from pythonosc.osc_message import OscMessage, ParseError
from pythonosc.osc_message_builder import BuildError, OscMessageBuilder

from loopwatch.config import DEFAULT_M4L_PORT, DEFAULT_OSC_PORT, DEFAULT_REAPER_PORT

PROTOCOL_VERSION = 1
PREFIX = "/loopwatch/"

#: Largest datagram the daemon sends.
MAX_SEND_BYTES = 1024
#: Larger incoming datagrams are dropped unparsed.
MAX_RECV_BYTES = 4096
ELLIPSIS = "\u2026"

# Client -> daemon: address -> accepted type-tag strings.
SUBSCRIBE = "/loopwatch/subscribe"
UNSUBSCRIBE = "/loopwatch/unsubscribe"
SCORE = "/loopwatch/score"
SYNC = "/loopwatch/sync"
ACK = "/loopwatch/ack"
STATUS = "/loopwatch/status"

# Daemon -> clients.
ALERT = "/loopwatch/alert"
FILE = "/loopwatch/file"
DONE = "/loopwatch/done"
CLEAR = "/loopwatch/clear"
ERROR = "/loopwatch/error"

CLIENT_KINDS = ("m4l", "reaper", "cli")
VERDICTS = ("ok", "warn", "error", "failed")
STATES = ("starting", "idle", "busy", "stopping")

#: Requests the daemon accepts. "f" positions also accept "i".
REQUEST_TYPES: dict[str, tuple[str, ...]] = {
    SUBSCRIBE: ("ssi",),
    UNSUBSCRIBE: ("s",),
    SCORE: ("ss", "ssff"),
    SYNC: ("si",),
    ACK: ("i",),
    STATUS: ("",),
}

#: Messages the daemon sends, with their exact type tags.
PUSH_TYPES: dict[str, str] = {
    ALERT: "isssfffs",
    FILE: "ssfis",
    DONE: "s",
    STATUS: "siss",
    CLEAR: "s",
    ERROR: "ss",
}

DEFAULT_PORTS = {"daemon": DEFAULT_OSC_PORT, "m4l": DEFAULT_M4L_PORT, "reaper": DEFAULT_REAPER_PORT}


class ProtocolError(ValueError):
    """An incoming datagram is not a valid loopwatch request.

    ``address`` is the request's address when it could be read, and
    ``request_id`` the id of a ``/loopwatch/score`` request whose first argument
    is a string (its answer ends with ``/loopwatch/done request_id`` even then).
    """

    def __init__(self, message: str, address: str = "", request_id: str | None = None):
        super().__init__(message)
        self.address = address
        self.request_id = request_id

    @property
    def context(self) -> str:
        """What ``/loopwatch/error`` names: the request id when there is one, else the address (or "")."""
        return self.request_id or self.address


@dataclass(frozen=True)
class Request:
    """A validated client request: its address and its arguments (floats as float)."""

    address: str
    args: tuple[Any, ...]


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def shorten_tail(text: str, max_bytes: int) -> str:
    """Keep the end of ``text`` within ``max_bytes`` UTF-8 bytes, marking the cut with a leading ``…``."""
    if _utf8_len(text) <= max_bytes:
        return text
    budget = max_bytes - _utf8_len(ELLIPSIS)
    out = text
    while out and _utf8_len(out) > budget:
        out = out[max(1, (_utf8_len(out) - budget) // 4):]
    return ELLIPSIS + out


def shorten_head(text: str, max_bytes: int) -> str:
    """Keep the start of ``text`` within ``max_bytes`` UTF-8 bytes, marking the cut with a trailing ``…``."""
    if _utf8_len(text) <= max_bytes:
        return text
    budget = max_bytes - _utf8_len(ELLIPSIS)
    out = text
    while out and _utf8_len(out) > budget:
        out = out[: -max(1, (_utf8_len(out) - budget) // 4)]
    return out + ELLIPSIS


def _osc_str_size(s: str) -> int:
    n = _utf8_len(s) + 1
    return n + (-n % 4)


def _size(address: str, tags: str, args: Sequence[Any]) -> int:
    total = _osc_str_size(address) + _osc_str_size("," + tags)
    for t, a in zip(tags, args):
        total += _osc_str_size(a) if t == "s" else 4
    return total


def encode(address: str, *args: Any) -> bytes:
    """Build one datagram for a daemon -> client message, enforcing types and the size limit.

    The argument types must match :data:`PUSH_TYPES`. Strings named ``path`` are
    shortened from the front and free-text ``message``/``context`` strings from
    the back until the datagram fits in :data:`MAX_SEND_BYTES`.
    """
    tags = PUSH_TYPES.get(address)
    if tags is None:
        raise ValueError(f"not a loopwatch push address: {address}")
    if len(args) != len(tags):
        raise ValueError(f"{address} takes {len(tags)} arguments ({tags}), got {len(args)}")
    values: list[Any] = []
    for t, a in zip(tags, args):
        if t == "i":
            v = int(a)
            if not -(2**31) <= v < 2**31:
                raise ValueError(f"{address}: int32 out of range: {v}")
            values.append(v)
        elif t == "f":
            values.append(float(a))
        else:
            values.append("" if a is None else str(a).replace("\x00", ""))
    # Positions of strings that may be shortened, in the order they are cut.
    free_text = {ALERT: [7], ERROR: [1]}.get(address, [])
    paths = {ALERT: [1], FILE: [0], CLEAR: [0]}.get(address, [])
    for idx in free_text + paths:
        over = _size(address, tags, values) - (MAX_SEND_BYTES - 4)
        if over <= 0:
            break
        cur = values[idx]
        keep = max(_utf8_len(cur) - over, 8)
        values[idx] = shorten_head(cur, keep) if idx in free_text else shorten_tail(cur, keep)
    if _size(address, tags, values) > MAX_SEND_BYTES:
        # Only possible with absurd non-shortenable strings (e.g. a giant model name).
        values = [shorten_head(v, 64) if isinstance(v, str) else v for v in values]
    b = OscMessageBuilder(address=address)
    for t, v in zip(tags, values):
        b.add_arg(v, t)
    return b.build().dgram


def encode_request(address: str, *args: Any) -> bytes:
    """Build a client -> daemon datagram (used by ``loopwatch client`` and the tests)."""
    b = OscMessageBuilder(address=address)
    for a in args:
        if isinstance(a, bool):
            raise ValueError("booleans are not part of the protocol")
        if isinstance(a, int):
            b.add_arg(a, "i")
        elif isinstance(a, float):
            b.add_arg(a, "f")
        else:
            b.add_arg(str(a), "s")
    try:
        return b.build().dgram
    except BuildError as exc:  # pragma: no cover - builder rejects odd values
        raise ValueError(str(exc)) from None


def _check_type_tags(dgram: bytes) -> None:
    """Reject type tags other than i, f and s before python-osc sees them (it skips unknown ones)."""
    end = dgram.find(b"\x00")
    if end < 0:
        raise ProtocolError("malformed OSC message: unterminated address")
    pos = end + 1 + (-(end + 1) % 4)
    if pos >= len(dgram):
        return  # no type tag string: python-osc treats it as no arguments
    if dgram[pos:pos + 1] != b",":
        raise ProtocolError("malformed OSC message: no type tag string")
    tend = dgram.find(b"\x00", pos)
    if tend < 0:
        raise ProtocolError("malformed OSC message: unterminated type tags")
    bad = set(dgram[pos + 1:tend]) - set(b"ifs")
    if bad:
        raise ProtocolError(f"unsupported OSC argument types {bytes(sorted(bad)).decode('latin-1')!r}")


def _tags_match(got: str, want: str) -> bool:
    return len(got) == len(want) and all(g == w or (w == "f" and g == "i") for g, w in zip(got, want))


def parse_request(dgram: bytes) -> Request:
    """Validate an incoming datagram and return the request it carries.

    Raises :class:`ProtocolError` with a one-line reason for anything that is not
    exactly one of the requests in :data:`REQUEST_TYPES`.
    """
    if len(dgram) > MAX_RECV_BYTES:
        raise ProtocolError(f"datagram of {len(dgram)} bytes is over the {MAX_RECV_BYTES}-byte limit")
    if not dgram.startswith(b"/"):
        raise ProtocolError("not an OSC message (bundles are not accepted)")
    _check_type_tags(dgram)
    try:
        msg = OscMessage(dgram)
        address = msg.address
        params = list(msg.params)
        tags = "".join(_tag_of(p) for p in params)
    except (ParseError, IndexError, ValueError, UnicodeDecodeError, OverflowError, TypeError) as exc:
        raise ProtocolError(f"malformed OSC message: {exc}") from None
    except Exception as exc:  # python-osc can raise odd errors on garbage
        raise ProtocolError(f"malformed OSC message: {type(exc).__name__}") from None
    accepted = REQUEST_TYPES.get(address)
    if accepted is None:
        raise ProtocolError(f"unknown address {address[:64]!r}")
    rid = params[0][:128] if address == SCORE and params and isinstance(params[0], str) else None
    for want in accepted:
        if _tags_match(tags, want):
            args = tuple(float(p) if w == "f" else p for p, w in zip(params, want))
            try:
                _check_values(address, args)
            except ProtocolError as exc:
                raise ProtocolError(str(exc), address, rid) from None
            return Request(address, args)
    raise ProtocolError(f"{address} takes ({' or '.join(repr(a) for a in accepted)}), got {tags!r}", address, rid)


def _tag_of(p: Any) -> str:
    if isinstance(p, bool) or p is None:
        return "?"
    if isinstance(p, int):
        return "i"
    if isinstance(p, float):
        return "f"
    if isinstance(p, str):
        return "s"
    return "?"


def _check_values(address: str, args: tuple[Any, ...]) -> None:
    import math

    if address == SUBSCRIBE:
        client_id, kind, port = args
        if not client_id or len(client_id) > 128:
            raise ProtocolError("subscribe: client_id must be 1-128 characters")
        if kind not in CLIENT_KINDS:
            raise ProtocolError(f"subscribe: kind must be one of {', '.join(CLIENT_KINDS)}, got {kind[:32]!r}")
        if not 0 < port < 65536:
            raise ProtocolError(f"subscribe: reply_port {port} is not a UDP port")
    elif address == SCORE:
        if not args[1]:
            raise ProtocolError("score: empty path")
        if len(args) == 4:
            start, length = args[2], args[3]
            if not (math.isfinite(start) and math.isfinite(length)) or start < 0 or length <= 0:
                raise ProtocolError("score: start_s must be >= 0 and length_s > 0")
    elif address == SYNC:
        if args[1] < 0:
            raise ProtocolError("sync: since_alert_id must be >= 0")
