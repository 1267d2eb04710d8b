# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every validation rule of calico-fleet, written once.

Roles' argument specs, the test plugins (plugins/test/) and the first play's
input check (scale_out.py) all call these functions.
"""
