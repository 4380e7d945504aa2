"""systemd's notify protocol (sd_notify(3)), spoken directly: one datagram per message on $NOTIFY_SOCKET.

With `Type=notify` systemd waits for `READY=1` before it counts the service as started; with
`WatchdogSec=` it sets $WATCHDOG_USEC and kills (then, with `Restart=on-failure`, restarts) the
service when `WATCHDOG=1` does not come at least that often. The sampling loop sends the pings, so a
loop stuck in a sampler (a hung statvfs, say) is noticed and restarted. `STATUS=` lines show up in
`systemctl status`. Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op.

The socket is a unix datagram socket; an address starting with `@` is in the abstract namespace (the
`@` stands for a leading NUL byte). No dependency: this is the whole protocol we need.
"""

from __future__ import annotations

import logging
import os
import select
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

SEND_TIMEOUT = 2.0  # seconds a READY=1 / STOPPING=1 may wait for room in systemd's queue


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._raw = env.get("NOTIFY_SOCKET", "")
        self.address = self._address(self._raw)
        self.watchdog_interval = self._watchdog_interval(env)
        self._sock: socket.socket | None = None
        self._failed = False

    @staticmethod
    def _address(raw: str) -> str | bytes | None:
        if not raw:
            return None
        if raw.startswith("@"):
            return b"\0" + raw[1:].encode()
        if raw.startswith("/"):
            return raw
        log.warning("NOTIFY_SOCKET=%r: only unix socket paths and @abstract names are supported", raw)
        return None

    @staticmethod
    def _watchdog_interval(env: Mapping[str, str]) -> float | None:
        """Seconds between pings: a third of WatchdogSec, so one late tick does not get us killed.

        None when there is no watchdog, or it is meant for another process ($WATCHDOG_PID).
        """
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) == 0:
            return None
        if pid and (not pid.isdigit() or int(pid) != os.getpid()):
            return None
        return int(usec) / 1e6 / 3

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str, wait: bool = True) -> bool:
        """Send `fields` (e.g. "READY=1", "STATUS=…") as one datagram; False if it could not be sent.

        The receiver's queue is short (net.unix.max_dgram_qlen, 10 by default) and a full one would
        block a blocking sender. The socket is non-blocking and connected (so that select() knows when
        systemd's queue has room): `wait=False` (the watchdog pings) never holds up the sampling loop,
        a ping that does not fit is dropped; otherwise the send waits up to `SEND_TIMEOUT`.
        """
        if self.address is None:
            return False
        data = "\n".join(fields).encode()
        try:
            sock = self._connect()
            try:
                sock.send(data)
            except BlockingIOError:
                if not wait or not select.select([], [sock], [], SEND_TIMEOUT)[1]:
                    raise
                sock.send(data)
        except OSError as exc:
            if not isinstance(exc, BlockingIOError):
                self.close()  # systemd may have been restarted: connect afresh next time
            if not self._failed:  # once per streak of failures
                log.warning("cannot notify systemd at %r: %s", self._raw, exc)
                self._failed = True
            return False
        self._failed = False
        return True

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
            try:
                sock.connect(self.address)  # type: ignore[arg-type]
            except OSError:
                sock.close()
                raise
            self._sock = sock
        return self._sock

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def watchdog(self, status: str | None = None) -> bool:
        return self.notify("WATCHDOG=1", *([f"STATUS={status}"] if status else []), wait=False)

    def stopping(self, status: str) -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
