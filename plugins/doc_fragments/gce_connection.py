# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options and requirements of every gcp_* module.

They mirror ``CONNECTION_SPEC`` in plugins/module_utils/gcp/client.py;
tests/unit/modules/test_module_docs.py fails when the two drift apart.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - google-cloud-compute >= 1.57
  - google-auth
options:
  project:
    description:
      - GCP project ID. Defaults to E(GOOGLE_CLOUD_PROJECT), then E(CLOUDSDK_CORE_PROJECT), then the
        project of the credentials.
    type: str
  credentials_file:
    description:
      - Service-account JSON key file. Without it, Application Default Credentials are used
        (or no credentials when O(api_endpoint) is set).
    type: path
  api_endpoint:
    description: Compute API endpoint, for example C(http://127.0.0.1:8080) for a local test server.
    type: str
  retries:
    description: How many times a request answered 429 or 5xx is retried (exponential backoff).
    type: int
    default: 5
  retry_delay:
    description: First backoff delay in seconds; doubles per retry, capped at 30 s.
    type: float
    default: 1.0
  operation_timeout:
    description:
      - Seconds to wait for each write operation (create, update, delete) to finish.
      - Read-only modules accept it, so one set of connection options fits every module, and do not use it.
    type: int
    default: 600
"""
