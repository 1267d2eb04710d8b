# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BIRD control-socket client: connect, read the greeting, send a command,
read the reply (what `calicoctl node status` does, without calicoctl).
"""

from __future__ import annotations

import socket
import time

from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.errors import (
    BirdError,
    BirdNotRunning,
    BirdProtocolError,
    BirdTimeout,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.reply import raise_on_error, split_reply

MAX_REPLY_BYTES = 16 * 1024 * 1024


class BirdClient:
    """One connection to a BIRD control socket; several commands may be sent."""

    def __init__(self, socket_path: str, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = float(timeout)
        self.greeting: str | None = None
        self._sock: socket.socket | None = None
        self._buf = b""

    def __enter__(self) -> BirdClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
            sock.close()
            raise BirdNotRunning(
                f"cannot connect to BIRD at {self.socket_path}: {exc.strerror or exc}",
                [self.socket_path],
            ) from exc
        except PermissionError as exc:
            sock.close()
            raise BirdError(f"permission denied on {self.socket_path}: the BIRD socket needs root") from exc
        except OSError as exc:
            sock.close()
            raise BirdNotRunning(f"cannot connect to BIRD at {self.socket_path}: {exc}", [self.socket_path]) from exc
        self._sock = sock
        greeting = self._read_reply("(greeting)")
        if not greeting or greeting[0][0] != 1:
            self.close()
            raise BirdProtocolError(f"unexpected greeting from {self.socket_path}: {greeting!r}")
        self.greeting = greeting[0][1]

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def version(self) -> str | None:
        """`1.6.8` from the greeting `0001 BIRD 1.6.8 ready.`"""
        parts = (self.greeting or "").split()
        return parts[1] if len(parts) >= 2 and parts[0] == "BIRD" else None

    def command(self, command: str) -> list[str]:
        """Send one command; return the reply as raw lines (codes kept).

        Raises BirdRuntimeError / BirdParseError for 8xxx / 9xxx replies.
        """
        if "\n" in command:
            raise ValueError("a BIRD command is one line")
        if self._sock is None:
            raise BirdError(f"not connected to BIRD at {self.socket_path}: connect first")
        self._deadline = time.monotonic() + self.timeout
        try:
            self._sock.sendall(command.encode() + b"\n")
        except OSError as exc:
            raise BirdNotRunning(f"BIRD at {self.socket_path} closed the connection: {exc}") from exc
        lines = self._read_lines(command)
        raise_on_error(split_reply(lines), command)
        return lines

    def _read_reply(self, what):
        return split_reply(self._read_lines(what))

    def _read_lines(self, what):
        lines = []
        while True:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                # A code followed by a space ends the reply (birdc does the same);
                # a bare code line (`0000`) is accepted as final too.
                if line[:4].isdigit() and (len(line) == 4 or line[4] == " "):
                    return lines
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise BirdTimeout(f"BIRD at {self.socket_path} did not finish its reply to {what} in time")
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(65536)
            except TimeoutError as exc:
                raise BirdTimeout(
                    f"BIRD at {self.socket_path} did not finish its reply to {what} within {self.timeout:g}s"
                ) from exc
            except OSError as exc:
                raise BirdNotRunning(f"BIRD at {self.socket_path} closed the connection: {exc}") from exc
            if not data:
                raise BirdProtocolError(f"BIRD at {self.socket_path} closed the connection during {what}")
            self._buf += data
            if len(self._buf) > MAX_REPLY_BYTES:
                raise BirdProtocolError(f"reply from {self.socket_path} to {what} is too long")


def query(socket_path: str, command: str, timeout: float = 5.0) -> list[str]:
    """Connect, send one command, return the reply lines (raw, with codes)."""
    with BirdClient(socket_path, timeout) as client:
        return client.command(command)
