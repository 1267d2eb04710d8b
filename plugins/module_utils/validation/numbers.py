# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Numbers as an inventory writes them: 2, "2" and " 2 " are the number 2; true is not a number."""

from __future__ import annotations

from typing import Any


def whole_number(value: Any) -> int | None:
    """The whole number ``value`` stands for, or None."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
