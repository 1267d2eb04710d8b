"""The ``filter`` parameter of Compute list calls, as the discovery document describes it.

Two forms that cannot be mixed in one filter:

* AIP-160: ``field OP value`` with OP one of ``= != > < >= <= :``; values bare,
  ``"double"`` or ``'single'`` quoted; ``*`` in a ``=``/``!=``/``:`` value is a
  wildcard and ``field:*`` tests that the field is set. Comparisons combine with
  juxtaposition (AND), ``AND``, ``OR`` and ``NOT`` and parentheses; as in
  AIP-160, ``OR`` binds tighter than ``AND``:
  ``(a = 1) OR (a = 2) AND (b = 3)`` means ``(a = 1 OR a = 2) AND b = 3``.
* Regular expression: ``field eq literal`` / ``field ne literal`` as one
  unparenthesised expression, or several parenthesised ones side by side
  (``(name eq node-.*) (status ne "STOPPED")``). The literal (bare or quoted)
  is an RE2 expression that must match the whole field.

Fields are dotted paths into the resource's JSON (``labels.role``,
``scheduling.automaticRestart``, ``tags.items``); a path through a list
matches when any element does. A URL-valued field (``zone``, ``network``)
also equals its last path segment, so ``zone = europe-west1-b`` works.
Anything else is a FilterError, which the server answers with HTTP 400.
"""

import re

FIELD = r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"
OPERATORS = ("!=", ">=", "<=", "=", ">", "<", ":")
_COMPARISON = re.compile(rf"({FIELD})\s*(!=|>=|<=|=|>|<|:)\s*")
_REGEX_TERM = re.compile(rf"\s*({FIELD})\s+(eq|ne)\s+(.+?)\s*", re.DOTALL)
# Constructs Python's re accepts but RE2 refuses (backreferences, lookaround).
_NOT_RE2 = re.compile(r"\\[1-9]|\(\?[=!]|\(\?<[=!]|\(\?P=")


class FilterError(ValueError):
    """The filter cannot be parsed; ``str()`` says why."""


def compile_filter(text):
    """Return a predicate ``resource -> bool`` for ``text`` (empty: everything matches)."""
    text = (text or "").strip()
    if not text:
        return lambda resource: True
    regex_terms = _regex_form(text)
    if regex_terms is not None:
        return lambda resource: all(term(resource) for term in regex_terms)
    return _Parser(text).parse()


def apply_filter(text, resources):
    predicate = compile_filter(text)
    return [resource for resource in resources if predicate(resource)]


# -- field access ---------------------------------------------------------
def field_values(resource, path):
    """Every value at ``path`` (lists flattened); [] when the field is absent."""
    values = [resource]
    for part in path.split("."):
        found = []
        for value in values:
            if isinstance(value, dict) and part in value:
                found.append(value[part])
        values = []
        for value in found:
            values.extend(value if isinstance(value, list) else [value])
    return [value for value in values if value is not None]


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return ""
    return str(value)


def _candidates(value):
    text = _text(value)
    if re.match(r"https?://", text):
        return (text, text.rstrip("/").rsplit("/", 1)[-1])
    return (text,)


# -- regular-expression form -------------------------------------------------
def _unquote(literal):
    if len(literal) >= 2 and literal[0] == literal[-1] and literal[0] in "'\"":
        return literal[1:-1]
    return literal


def _regex_term(field, operator, literal):
    pattern = _unquote(literal.strip())
    if _NOT_RE2.search(pattern):
        raise FilterError(f"'{pattern}' is not an RE2 regular expression (no backreferences or lookaround)")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise FilterError(f"invalid regular expression '{pattern}': {exc}") from None

    def term(resource):
        hit = any(compiled.fullmatch(text) for value in field_values(resource, field) for text in _candidates(value))
        return hit if operator == "eq" else not hit

    return term


def _groups(text):
    """Split ``(a) (b) ...`` into its top-level parenthesised contents, or None."""
    groups, index = [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        if text[index] != "(":
            return None
        depth, quote, start = 0, None, index
        while index < len(text):
            char = text[index]
            if quote:
                if char == "\\":
                    index += 1
                elif char == quote:
                    quote = None
            elif char in "'\"":
                quote = char
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        if depth != 0:
            raise FilterError("unbalanced parentheses")
        groups.append(text[start + 1 : index])
        index += 1
    return groups


def _regex_form(text):
    """Terms of a regular-expression filter, or None when ``text`` is not one."""
    if not text.startswith("("):
        match = _REGEX_TERM.fullmatch(text)
        return [_regex_term(*match.groups())] if match else None
    groups = _groups(text)
    if not groups:
        return None
    matches = [_REGEX_TERM.fullmatch(group) for group in groups]
    if not any(matches):
        return None
    if not all(matches):
        raise FilterError("regular-expression (eq/ne) and comparison (=, !=, ...) expressions cannot be mixed")
    return [_regex_term(*match.groups()) for match in matches]


# -- AIP-160 form -------------------------------------------------------------
def _wildcard(literal):
    return re.compile(".*".join(re.escape(part) for part in literal.split("*")), re.DOTALL)


def _equals(values, literal):
    if "*" in literal:
        pattern = _wildcard(literal)
        return any(pattern.fullmatch(text) for value in values for text in _candidates(value))
    return any(literal in _candidates(value) for value in values)


def _order(values, operator, literal):
    def compare(left, right):
        return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[operator]

    for value in values:
        text = _text(value)
        try:
            if compare(float(text), float(literal)):
                return True
        except ValueError:
            if compare(text, literal):
                return True
    return False


def _comparison(field, operator, literal):
    def term(resource):
        values = field_values(resource, field)
        if operator == ":":
            return bool(values) if literal == "*" else _equals(values, literal)
        if operator == "=":
            return _equals(values, literal)
        if operator == "!=":
            return not _equals(values, literal)
        return _order(values, operator, literal)

    return term


class _Parser:
    """expression := sequence {AND sequence}; sequence := factor {factor};
    factor := term {OR term}; term := [NOT | -] (comparison | '(' expression ')')."""

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def fail(self, why):
        raise FilterError(f"{why} at position {self.pos}")

    def skip(self):
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def keyword(self, word):
        self.skip()
        match = re.compile(rf"{word}(?=[\s(]|$)").match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return True
        return False

    def at_end_of_group(self):
        self.skip()
        return self.pos >= len(self.text) or self.text[self.pos] == ")"

    def parse(self):
        predicate = self.expression()
        self.skip()
        if self.pos < len(self.text):
            self.fail(f"unexpected '{self.text[self.pos]}'")
        return predicate

    def expression(self):
        parts = [self.sequence()]
        while self.keyword("AND"):
            parts.append(self.sequence())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def sequence(self):
        parts = [self.factor()]
        while not self.at_end_of_group() and not self.peek_keyword("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def peek_keyword(self, word):
        start = self.pos
        found = self.keyword(word)
        self.pos = start
        return found

    def factor(self):
        parts = [self.term()]
        while self.keyword("OR"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def term(self):
        self.skip()
        if self.keyword("NOT") or self.text.startswith("-", self.pos):
            if self.text.startswith("-", self.pos):
                self.pos += 1
            inner = self.simple()
            return lambda r: not inner(r)
        return self.simple()

    def simple(self):
        self.skip()
        if self.pos >= len(self.text):
            self.fail("expression expected")
        if self.text[self.pos] == "(":
            self.pos += 1
            inner = self.expression()
            self.skip()
            if not self.text.startswith(")", self.pos):
                self.fail("')' expected")
            self.pos += 1
            return inner
        for word in ("AND", "OR"):
            if self.peek_keyword(word):
                self.fail(f"'{word}' needs an expression on each side")
        match = _COMPARISON.match(self.text, self.pos)
        if not match:
            self.fail("'field OPERATOR value' expected")
        self.pos = match.end()
        field, operator = match.groups()
        return _comparison(field, operator, self.value())

    def value(self):
        if self.pos >= len(self.text):
            self.fail("value expected")
        quote = self.text[self.pos]
        if quote in "'\"":
            chars, index = [], self.pos + 1
            while index < len(self.text) and self.text[index] != quote:
                if self.text[index] == "\\" and index + 1 < len(self.text):
                    index += 1
                chars.append(self.text[index])
                index += 1
            if index >= len(self.text):
                self.fail("unterminated string")
            self.pos = index + 1
            return "".join(chars)
        match = re.compile(r"[^\s()]+").match(self.text, self.pos)
        if not match:
            self.fail("value expected")
        self.pos = match.end()
        value = match.group(0)
        if any(value.startswith(op) for op in OPERATORS if op != ":") or value in ("AND", "OR", "NOT"):
            self.fail(f"'{value}' is not a value")
        return value
