# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compute Engine: the client (``client``), its errors (``errors``), firewall
rules (``firewall``), instances and their tags (``instances``), and the base
of the gcp_* modules (``module``).
"""
