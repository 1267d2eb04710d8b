# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico label selectors, the part calico-fleet evaluates.

Understood: ``all()``, ``has(k)``, ``k == 'v'``, ``k != 'v'`` (true when the
label is absent, as in Calico), joined by ``&&``; values in single or double
quotes. Anything else Calico's grammar allows (``||``, ``!``, parentheses,
``in {...}``, ``starts with``, ``global()``, ...) raises ``SelectorError``
naming the part not understood: a selector is never guessed.
"""

import re

_TERM = re.compile(
    r"""^(?:(?P<all>all\(\s*\))"""
    r"""|has\(\s*(?P<has>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*\)"""
    r"""|(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*(?P<op>==|!=)\s*(?P<q>['"])(?P<value>[^'"]*)(?P=q))$"""
)
SUPPORTED = "all(), has(k), k == 'v', k != 'v', joined by &&"


class SelectorError(ValueError):
    """A selector (or a part of it) calico-fleet cannot evaluate."""


def parse(selector):
    """The selector as a list of terms; raises SelectorError for what is not understood."""
    text = str(selector if selector is not None else "").strip()
    if not text:
        raise SelectorError("the selector is empty (Calico's default for every node is all())")
    terms = []
    for part in text.split("&&"):
        match = _TERM.match(part.strip())
        if not match:
            raise SelectorError(f"{part.strip()!r} is not understood by calico-fleet (it evaluates {SUPPORTED})")
        if match.group("all"):
            terms.append(("all", None, None))
        elif match.group("has"):
            terms.append(("has", match.group("has"), None))
        else:
            terms.append((match.group("op"), match.group("key"), match.group("value")))
    return terms


def matches(terms, labels):
    """Whether parsed ``terms`` select a resource with ``labels``."""
    labels = labels or {}
    for op, key, value in terms:
        if op == "has" and key not in labels:
            return False
        if op == "==" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
    return True


def selects(selector, labels):
    """Whether ``selector`` (text) selects ``labels``; raises SelectorError when not understood."""
    return matches(parse(selector), labels)
