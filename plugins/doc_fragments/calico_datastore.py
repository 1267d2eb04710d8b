# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every module that reads or writes Calico resources.

They mirror ``datastore_argument_spec()`` in plugins/module_utils/calico_datastore.py;
tests/unit/modules/test_module_docs.py fails when the two drift apart.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  datastore:
    description:
      - Where Calico keeps its resources. C(etcdv3) talks to etcd directly (keys and JSON exactly as
        Calico writes them); C(kubernetes) goes through the API server (C(projectcalico.org/v3)).
    type: str
    choices: [etcdv3, kubernetes]
    default: etcdv3
  etcd_endpoints:
    description:
      - etcd client URLs (C(http://) or C(https://)), tried in order. Required for O(datastore=etcdv3).
    type: list
    elements: str
  etcd_ca_cert:
    description: CA certificate that signed the etcd server certificate.
    type: path
  etcd_cert:
    description: Client certificate for etcd (kubeasz uses TLS client certificates). Needs O(etcd_key).
    type: path
  etcd_key:
    description: Private key of O(etcd_cert).
    type: path
  kubeconfig:
    description: Kubeconfig file for O(datastore=kubernetes) (token or client-certificate users only).
    type: path
  kube_context:
    description: Context in O(kubeconfig); default its current context.
    type: str
  api_host:
    description: API server URL; overrides O(kubeconfig).
    type: str
  api_token:
    description: Bearer token for O(api_host).
    type: str
  api_ca_cert:
    description: CA certificate of the API server.
    type: path
  api_client_cert:
    description: Client certificate for the API server.
    type: path
  api_client_key:
    description: Private key of O(api_client_cert).
    type: path
  validate_certs:
    description: Verify the API server certificate.
    type: bool
    default: true
  allow_crd_v1:
    description:
      - When the API server does not serve C(projectcalico.org/v3), write raw C(crd.projectcalico.org/v1)
        objects anyway. Off by default, because raw CRDs skip Calico's validation and defaulting.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for each datastore request.
    type: float
    default: 10
"""
