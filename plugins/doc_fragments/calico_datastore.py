# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every module that reads or writes Calico resources.

They mirror ``datastore_argument_spec()`` in plugins/module_utils/datastore/connect.py;
tests/unit/plugins/modules/test_module_docs.py fails when the two drift apart. The Kubernetes
options carry kubernetes.core's names; calico-fleet's earlier names are aliases.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  datastore:
    description:
      - A play sets these options once for all Calico modules through C(module_defaults) of the action group
        C(group/calico_fleet.fleet.calico_datastore), from the inventory variable C(calico_fleet_datastore).
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
    description:
      - Kubeconfig file for O(datastore=kubernetes), read as kubectl reads it (exec credential plugins,
        token files, client certificates).
    type: path
  context:
    description: Context in O(kubeconfig); default its current context.
    type: str
    aliases: [kube_context]
  host:
    description: API server URL, for example C(https://10.0.1.1:6443); overrides O(kubeconfig).
    type: str
    aliases: [api_host]
  api_key:
    description: Bearer token for O(host).
    type: str
    aliases: [api_token]
  ca_cert:
    description: CA certificate of the API server.
    type: path
    aliases: [api_ca_cert]
  client_cert:
    description: Client certificate for the API server.
    type: path
    aliases: [api_client_cert]
  client_key:
    description: Private key of O(client_cert).
    type: path
    aliases: [api_client_key]
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
