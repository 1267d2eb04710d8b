# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names: DNS labels, hostnames, GCE resource names, batch ids.

The leading-digit question, settled as each system defines it:

- Kubernetes Node names, Calico node names, Linux hostnames and EC2 ``Name``
  tags: RFC 1123 labels (lower-case a-z, 0-9 and '-', 1-63 characters,
  starting and ending with a letter or digit): ``dns_label``, ``hostname``.
- GCE instance names, firewall rule names and network tags, and every label
  of a GCE instance ``hostname``: RFC 1035 (the first character a letter):
  ``gce_name``, ``hostname(..., rfc1035=True)``.

A rule returns why a value breaks it (a sentence to put after the value), or
None when the value is fine; ``is_*`` are the same rules as booleans.
"""

from __future__ import annotations

import re
from typing import Any

MAX_LABEL = 63
MAX_HOSTNAME = 253

_BATCH_RE = re.compile(r"[a-z0-9]([-_a-z0-9]{0,61}[a-z0-9])?")


def label_characters_only(text: str) -> bool:
    """True when ``text`` holds only what a DNS label may hold: lower-case a-z, 0-9 and '-'."""
    return re.fullmatch(r"[-a-z0-9]+", text) is not None


def _label_problem(name: Any, letter_first: bool, max_length: int | None = MAX_LABEL) -> str | None:
    if not isinstance(name, str) or not name:
        return "it is empty"
    if max_length is not None and len(name) > max_length:
        return f"it has {len(name)} characters, more than {max_length}"
    if name != name.lower():
        return "it has upper-case letters (Kubernetes and Calico lower-case node names); use lower case"
    if not label_characters_only(name):
        return "only a-z, 0-9 and '-' are allowed"
    if letter_first and not name[0].isalpha():
        return "it must start with a letter"
    if name.startswith("-"):
        return "it must start with a letter or digit"
    if name.endswith("-"):
        return "it must end with a letter or digit"
    return None


def dns_label_problem(name: Any) -> str | None:
    """RFC 1123 label, as Kubernetes and Calico take node names: a digit may come first."""
    return _label_problem(name, letter_first=False)


def gce_name_problem(name: Any) -> str | None:
    """RFC 1035 label, as Compute Engine takes instance and rule names and network tags: a letter first."""
    return _label_problem(name, letter_first=True)


def node_name_problem(name: Any, cloud: str | None = None) -> str | None:
    """A node name on ``cloud``: the instance name as well on GCP (RFC 1035), an RFC 1123 label elsewhere."""
    return gce_name_problem(name) if cloud == "gcp" else dns_label_problem(name)


def name_part_problem(value: Any) -> str | None:
    """A value that goes inside a name (a template's cluster or role): a-z, 0-9, '-' not at either end."""
    return _label_problem(str(value), letter_first=False, max_length=None)


def hostname_problem(name: Any, fqdn: bool = False, rfc1035: bool = False) -> str | None:
    """An RFC 1123 hostname: labels joined by dots, at most 253 characters.

    ``fqdn`` wants two or more labels; ``rfc1035`` wants every label to start with a letter (a GCE
    instance's ``hostname``).
    """
    if not isinstance(name, str) or not name:
        return "it is empty"
    if len(name) > MAX_HOSTNAME:
        return f"it has {len(name)} characters, more than {MAX_HOSTNAME}"
    labels = name.split(".")
    if fqdn and len(labels) < 2:
        return "it needs two or more labels separated by '.'"
    for label in labels:
        if _label_problem(label, letter_first=rfc1035) is not None:
            start = "a letter" if rfc1035 else "a letter or digit"
            return (f"label {label!r} is not valid: lower-case a-z, 0-9 and '-', at most {MAX_LABEL} "
                    f"characters, starting with {start} and ending with a letter or digit")
    return None


def batch_problem(batch: Any) -> str | None:
    """A batch id: it becomes a GCE label value and an EC2 tag value (a-z, 0-9, '-', '_', 1-63)."""
    if not isinstance(batch, str) or not _BATCH_RE.fullmatch(batch):
        return ("it is not a lower-case id of 1-63 characters (a-z, 0-9, '-', '_', starting and ending "
                "with a letter or digit)")
    return None


def is_dns_label(name: Any) -> bool:
    return dns_label_problem(name) is None


def is_gce_name(name: Any) -> bool:
    return gce_name_problem(name) is None


def is_hostname(name: Any, fqdn: bool = False, rfc1035: bool = False) -> bool:
    return hostname_problem(name, fqdn, rfc1035) is None
