# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the BIRD client and parsers raise: one base, ``BirdError``.
"""

from __future__ import annotations

from collections.abc import Iterable


class BirdError(Exception):
    """Base class of everything this module raises."""


class BirdNotRunning(BirdError):
    """No BIRD answers: socket missing or connection refused."""

    def __init__(self, msg: str, paths: Iterable[str] = ()) -> None:
        super().__init__(msg)
        self.paths = list(paths)


class BirdTimeout(BirdError):
    """BIRD accepted the connection but did not finish its reply in time."""


class BirdProtocolError(BirdError):
    """The reply does not follow BIRD's reply-code format."""


class BirdReplyError(BirdError):
    """BIRD answered with an error code (8xxx or 9xxx)."""

    def __init__(self, code: int, text: str, command: str | None = None) -> None:
        self.code = code
        self.text = text
        self.command = command
        where = f" to {command!r}" if command else ""
        super().__init__(f"BIRD answered {code} {text}{where}")


class BirdRuntimeError(BirdReplyError):
    """8xxx: the command was understood but failed (e.g. 8003 No protocols match)."""


class BirdParseError(BirdReplyError):
    """9xxx: the command was not understood (9001 syntax error, 9002 X is not a protocol)."""


def reply_error(code: int, text: str, command: str | None = None) -> BirdReplyError:
    cls = BirdParseError if code >= 9000 else BirdRuntimeError
    return cls(code, text, command)
