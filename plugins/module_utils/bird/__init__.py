# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BIRD, as calico-node runs it: the control-socket client (``client``, the
reply format in ``reply``), the parsers of its answers (``protocols``), and
this host's BGP status as calico_bgp_status reports it (``status``).
"""
