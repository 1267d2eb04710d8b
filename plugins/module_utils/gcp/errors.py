# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compute Engine errors: one base (``GceError``, whose ``context`` goes to
fail_json next to ``msg``), the library errors the helpers catch
(``GoogleAPICallError``, ``TRANSPORT_ERRORS``: no answer at all) and the
mapping of google-api-core errors to messages that say what to fix."""

from __future__ import annotations

from typing import Any

try:
    from google.api_core.exceptions import GoogleAPICallError
except ImportError:  # gcp.client.Gce() reports the missing library
    GoogleAPICallError = Exception  # type: ignore[misc,assignment]
try:
    from google.auth.exceptions import TransportError
    from requests.exceptions import ConnectionError as RequestsConnectionError

    TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (RequestsConnectionError, TransportError, ConnectionError)
except ImportError:
    TRANSPORT_ERRORS = (ConnectionError,)


class GceError(Exception):
    """Base error; ``context`` goes into fail_json next to ``msg``."""

    def __init__(self, msg: str, **context: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.context = context


class GceInputError(GceError):
    pass


class GcePermissionError(GceError):
    pass


class GceNotFoundError(GceError):
    pass


class GceOperationError(GceError):
    def __init__(self, msg: str, status: int | None = None, **context: Any) -> None:
        super().__init__(msg, http_status=status, **context)
        self.status = status


def api_error(exc: GoogleAPICallError, permission: str, resource: str, network: str | None = None,
              project: str | None = None) -> GceError:
    """Turn a google-api-core error into a GceError whose message says what to fix."""
    code = getattr(exc, "code", None)
    text = getattr(exc, "message", str(exc))
    if code == 403:
        return GcePermissionError(
            f"Permission denied on {resource}: the credentials lack IAM permission '{permission}' "
            f"(grant it on project '{project}', e.g. through a custom role). Server said: {text}",
            http_status=403, permission=permission,
        )
    if code == 404:
        what = f"network '{network}' or project '{project}'" if network else f"project '{project}'"
        return GceNotFoundError(
            f"Not found while working on {resource}: check that the {what} exist. Server said: {text}",
            http_status=404,
        )
    if code == 400:
        return GceInputError(f"Compute Engine refused {resource}: {text}", http_status=400)
    return GceError(f"Compute Engine error on {resource} ({code}): {text}", http_status=code)


def is_not_found(exc: BaseException) -> bool:
    return getattr(exc, "code", None) == 404


def is_conflict(exc: BaseException) -> bool:
    return getattr(exc, "code", None) == 409
