# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of the datastore: one base, whose ``context`` goes into fail_json as extra keys."""

from __future__ import annotations

from typing import Any


class DatastoreError(Exception):
    """Base class: the message says what to change; ``context`` names where (endpoint, key, api_host)
    and goes into fail_json as extra keys."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context

    def fail_args(self, **extra: Any) -> dict[str, Any]:
        """fail_json's keyword arguments: ``msg``, ``extra`` (the task's own context), this error's context."""
        return {"msg": str(self), **extra, **self.context}


class DatastoreConnectionError(DatastoreError):
    """The datastore could not be reached or refused our credentials."""


class ResourceConflictError(DatastoreError):
    """Created concurrently, or changed since read: read again and retry."""


class CrdV1RefusedError(DatastoreError):
    """projectcalico.org/v3 is not served and raw crd.projectcalico.org/v1 writes were not allowed."""
