"""UDP transport for the OSC protocol: a request endpoint and a pusher to clients.

Only datagrams built by :mod:`loopwatch.protocol` are sent, and only datagrams
that :func:`loopwatch.protocol.parse_request` accepts reach a handler, so a bad
packet can at worst be logged and answered with ``/loopwatch/error``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Callable, Iterable

from loopwatch import protocol
from loopwatch.config import parse_hostport

log = logging.getLogger(__name__)

Address = tuple[str, int]


class OscEndpoint:
    """Receives requests on ``host:port`` in a thread and calls ``handler(request, sender)``.

    Parameters
    ----------
    handler : callable
        ``handler(protocol.Request, (host, port))``; exceptions it raises are
        logged and answered with ``/loopwatch/error``, never propagated.
    """

    def __init__(self, host: str, port: int, handler: Callable[[protocol.Request, Address], None]) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                          " (is another loopwatch daemon running? change [osc] port or --osc-port)") from None
        self.sock.settimeout(0.2)
        self.address: Address = self.sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error_reply: dict[Address, float] = {}
        self.received = 0
        self.rejected = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="loopwatch-osc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.sock.close()

    def send(self, dgram: bytes, addr: Address) -> bool:
        try:
            self.sock.sendto(dgram, addr)
            return True
        except OSError as exc:  # client gone (ICMP unreachable), bad address...
            log.debug("send to %s:%s failed: %s", addr[0], addr[1], exc)
            return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                dgram, sender = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                # Windows reports an earlier send's ICMP "port unreachable" here; keep serving.
                log.debug("recvfrom: %s", exc)
                continue
            sender = (sender[0], sender[1])
            self.received += 1
            try:
                req = protocol.parse_request(dgram)
            except protocol.ProtocolError as exc:
                self.rejected += 1
                log.info("rejected packet from %s:%s: %s", sender[0], sender[1], exc)
                if exc.request_id is not None:
                    # a score request that names its id gets its answer, however many come: error, then done
                    self.send(protocol.encode(protocol.ERROR, exc.context, str(exc)), sender)
                    self.send(protocol.encode(protocol.DONE, exc.request_id), sender)
                else:
                    self._error_reply(sender, exc.context, str(exc))
                continue
            try:
                self.handler(req, sender)
            except Exception as exc:  # a handler bug must not stop the endpoint
                log.exception("error handling %s from %s:%s", req.address, *sender)
                self._error_reply(sender, req.address, f"internal error: {type(exc).__name__}")

    def _error_reply(self, sender: Address, context: str, message: str) -> None:
        # At most one error answer per sender per 0.1 s: a flood of junk gets little back.
        now = time.monotonic()
        if now - self._last_error_reply.get(sender, 0.0) < 0.1:
            return
        self._last_error_reply[sender] = now
        if len(self._last_error_reply) > 1024:
            self._last_error_reply.clear()
        self.send(protocol.encode(protocol.ERROR, context, message), sender)


class Pusher:
    """Sends daemon -> client datagrams to static push targets and live subscribers.

    Destinations are de-duplicated by (host, port), so a subscriber listening on a
    static target's port gets each message once.

    Parameters
    ----------
    send : callable
        ``send(dgram, addr)``; the endpoint's socket when there is one.
    subscribers : callable
        Returns the live subscribers' ``(host, port)`` addresses.
    static_targets : iterable of "host:port"
    """

    def __init__(self, send: Callable[[bytes, Address], bool], subscribers: Callable[[], Iterable[Address]],
                 static_targets: Iterable[str]) -> None:
        self._send = send
        self._subscribers = subscribers
        self.static: list[Address] = [parse_hostport(t) for t in static_targets]

    def destinations(self, extra: Iterable[Address] = ()) -> list[Address]:
        seen: dict[Address, None] = {}
        for addr in list(self.static) + list(self._subscribers()) + list(extra):
            seen.setdefault((addr[0], int(addr[1])), None)
        return list(seen)

    def push(self, dgrams: Iterable[bytes], extra: Iterable[Address] = ()) -> int:
        """Send every datagram to every destination; return the number of datagrams sent."""
        dests = self.destinations(extra)
        sent = 0
        for d in dgrams:
            for addr in dests:
                sent += bool(self._send(d, addr))
        return sent


def udp_sender() -> tuple[socket.socket, Callable[[bytes, Address], bool]]:
    """An unbound UDP socket and a ``send`` function for processes without an endpoint (``listen``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(dgram: bytes, addr: Address) -> bool:
        try:
            sock.sendto(dgram, addr)
            return True
        except OSError as exc:
            log.debug("send to %s:%s failed: %s", addr[0], addr[1], exc)
            return False

    return sock, send
