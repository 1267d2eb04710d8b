# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compute Engine access shared by the gcp_* modules and the inventory plugin.

Client construction (credentials, project, endpoint), the one retry helper
and operation waits through the operations clients (``insert()`` returns an
ExtendedOperation whose poller ignores the endpoint, so we use ``*_unary``
and wait ourselves). Credentials never leave this file: errors carry no
token or key material. The google libraries are optional here: without
them ``HAS_GOOGLE`` is false and ``Gce()`` says what to install.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

try:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1

    HAS_GOOGLE = True
    IMPORT_ERROR = None
except ImportError as exc:  # reported by Gce(), not here
    compute_v1 = None  # type: ignore[assignment]
    HAS_GOOGLE = False
    IMPORT_ERROR = str(exc)

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.errors import (
    TRANSPORT_ERRORS,
    GceInputError,
    GceOperationError,
    GoogleAPICallError,
)

SCOPES = ["https://www.googleapis.com/auth/compute"]
RETRYABLE = (429, 500, 502, 503, 504)

# Common options of every gcp_* module (merged into each argument_spec).
CONNECTION_SPEC = dict(
    project=dict(type="str"),
    credentials_file=dict(type="path"),
    api_endpoint=dict(type="str"),
    retries=dict(type="int", default=5),
    retry_delay=dict(type="float", default=1.0),
    operation_timeout=dict(type="int", default=600),
)


class Gce:
    """Clients built with one set of options, plus project and retry policy."""

    def __init__(self, params: dict[str, Any]) -> None:
        if not HAS_GOOGLE:
            raise GceInputError(f"google-cloud-compute is required on the controller: {IMPORT_ERROR}")
        credentials, default_project = _credentials(params)
        self.project = params.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT") or \
            os.environ.get("CLOUDSDK_CORE_PROJECT") or default_project
        if not self.project:
            raise GceInputError("No project: set the project option or GOOGLE_CLOUD_PROJECT.")
        self.retries = max(0, params.get("retries", 5))
        self.retry_delay = max(0.0, params.get("retry_delay", 1.0))
        self.operation_timeout = params.get("operation_timeout", 600)
        options = {"credentials": credentials, "transport": "rest"}
        if params.get("api_endpoint"):
            options["client_options"] = {"api_endpoint": params["api_endpoint"]}
        self.firewalls = compute_v1.FirewallsClient(**options)
        self.instances = compute_v1.InstancesClient(**options)
        self.global_operations = compute_v1.GlobalOperationsClient(**options)
        self.zone_operations = compute_v1.ZoneOperationsClient(**options)

    def call(self, method: Callable[..., Any], timeout: float = 60, idempotent: bool = False, **kwargs: Any) -> Any:
        """Call a client method, retrying 429/5xx with bounded exponential backoff.

        The client's own retry (503 for up to 600 s on GETs) is switched off
        with ``retry=None`` so this is the only retry policy. With
        ``idempotent=True`` (a request carrying a ``requestId``, sent again
        unchanged) a lost reply (connection closed or reset) is retried too:
        Compute answers the repeat with the first request's operation.
        """
        attempt = 0
        while True:
            try:
                return method(retry=None, timeout=timeout, **kwargs)
            except GoogleAPICallError as exc:
                if exc.code not in RETRYABLE or attempt >= self.retries:
                    raise
            except TRANSPORT_ERRORS:
                if not idempotent or attempt >= self.retries:
                    raise
            delay = min(self.retry_delay * (2**attempt), 30.0)
            time.sleep(delay * random.uniform(0.5, 1.0))
            attempt += 1

    def wait_global(self, operation: Any) -> Any:
        return self._wait(self.global_operations, operation, {})

    def wait_zone(self, operation: Any, zone: str) -> Any:
        return self._wait(self.zone_operations, operation, {"zone": zone})

    def _wait(self, client, operation, scope):
        """Wait (server-side, bounded) until DONE; raise if the operation failed."""
        deadline = time.monotonic() + self.operation_timeout
        op = operation
        while op.status != compute_v1.Operation.Status.DONE:
            if time.monotonic() > deadline:
                raise GceOperationError(f"Operation {operation.name} not done after {self.operation_timeout} s",
                                        operation=operation.name)
            # GCE's wait returns after at most about 2 minutes even when not DONE.
            op = self.call(client.wait, timeout=150, project=self.project, operation=operation.name, **scope)
        if op.http_error_status_code or op.error.errors:
            details = "; ".join(f"{e.code}: {e.message}" for e in op.error.errors)
            status = op.http_error_status_code or None
            text = op.http_error_message or "operation failed"
            raise GceOperationError(f"{text} ({status}): {details}", status=status, operation=op.name)
        return op


def _credentials(params):
    """(credentials, project) from the endpoint, a key file or ADC."""
    if params.get("api_endpoint") and not params.get("credentials_file"):
        # A local endpoint (the test server) needs no credentials.
        return AnonymousCredentials(), None
    import google.auth
    from google.auth import exceptions as auth_exc

    try:
        if params.get("credentials_file"):
            from google.oauth2 import service_account

            creds = service_account.Credentials.from_service_account_file(params["credentials_file"], scopes=SCOPES)
            return creds, creds.project_id
        return google.auth.default(scopes=SCOPES)
    except (auth_exc.GoogleAuthError, OSError, ValueError) as exc:
        # The exception text names the file or the ADC lookup, never key material.
        where = "credentials_file" if params.get("credentials_file") else "Application Default Credentials"
        raise GceInputError(f"Cannot load Google credentials from {where}: {type(exc).__name__}") from None


def last_segment(url: str | None) -> str:
    return (url or "").rstrip("/").rsplit("/", 1)[-1]
