# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BIRD's reply format (cli.c, same in 1.6 and 2.x): each line starts with a
4-digit code followed by `-` (more lines follow) or ` ` (last line of the
reply); a line starting with a single space continues the previous code;
`+` lines are asynchronous messages. 0xxx = done, 1xxx = table rows,
2xxx = table headings, 8xxx = run-time error, 9xxx = parse error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.errors import reply_error

_CODE_LINE = re.compile(r"^(\d{4})(?:([ -])(.*))?$")


def split_reply(lines: Iterable[str]) -> list[tuple[int | None, str]]:
    """Turn raw reply lines into (code, text) pairs.

    Continuation lines (leading space) inherit the previous code. Lines
    without a code (birdc's printed output) get code None, so captured
    `birdc show protocols` output parses too. Async `+` lines are dropped.
    """
    out: list[tuple[int | None, str]] = []
    code: int | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        match = _CODE_LINE.match(line)
        if match:
            code = int(match.group(1))
            out.append((code, match.group(3) or ""))
        elif line.startswith(" "):
            out.append((code, line[1:]))
        elif line.startswith("+"):
            continue
        elif line.strip():
            out.append((None, line))
    return out


def raise_on_error(pairs: Iterable[tuple[int | None, str]], command: str | None = None) -> None:
    for code, text in pairs:
        if code is not None and code >= 8000:
            raise reply_error(code, text.strip(), command)
