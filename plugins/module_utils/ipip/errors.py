# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPIP probe's errors: one base, whose ``context`` goes to fail_json.

Standard library only: the probe runs on the nodes with their system Python.
"""

from __future__ import annotations

from typing import Any


class ProbeError(Exception):
    """Base class; ``context`` goes to fail_json as extra keys."""

    def __init__(self, msg: str, **context: Any) -> None:
        super().__init__(msg)
        self.context = context


class NeedsRootError(ProbeError):
    """The raw socket could not be opened (EPERM / EACCES)."""


class NoListenerError(ProbeError):
    """collect() found no probe files for the run."""
