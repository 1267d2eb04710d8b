"""Request-body validation against Google's own Compute v1 discovery document.

The document ships with google-api-python-client (Apache-2.0). We keep only the
schemas reachable from the resources this server accepts, so a body is checked
against exactly what Google publishes: field names, JSON types, enums and
patterns. Output-only fields are accepted and ignored, as GCE does.
"""

import functools
import json
import pathlib
import re

ROOTS = ("Firewall", "Instance", "Tags")


class SchemaError(ValueError):
    """A request body does not match the discovery schema.

    ``unknown`` tells the server to answer the way Google does for a field
    name it does not know (a JSON parsing error rather than a value error).
    """

    def __init__(self, message, field, unknown=False):
        super().__init__(message)
        self.field = field
        self.unknown = unknown


def discovery_path():
    import googleapiclient

    base = pathlib.Path(googleapiclient.__file__).parent
    return base / "discovery_cache" / "documents" / "compute.v1.json"


@functools.lru_cache(maxsize=1)
def discovery_document():
    return json.loads(discovery_path().read_text())


@functools.lru_cache(maxsize=1)
def discovery_methods():
    """[(HTTP method, compiled URL path regex, method id)] for every Compute v1 method."""
    methods = []

    def walk(resources):
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                path = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(method.get("flatPath") or method["path"]))
                methods.append((method["httpMethod"], re.compile(f"^/compute/v1/{path}$"), method["id"]))
            walk(resource.get("resources", {}))

    walk(discovery_document()["resources"])
    return methods


def method_id(http_method, path):
    """The Compute v1 method id (``compute.instances.stop``) for a request, or None."""
    for verb, pattern, ident in discovery_methods():
        if verb == http_method and pattern.match(path):
            return ident
    return None


@functools.lru_cache(maxsize=1)
def load_schemas(roots=ROOTS):
    """Return {name: schema} for ``roots`` and every schema they reference."""
    everything = discovery_document()["schemas"]
    wanted = {}

    def collect(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref not in wanted:
                wanted[ref] = everything[ref]
                collect(everything[ref])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for root in roots:
        wanted[root] = everything[root]
        collect(everything[root])
    return wanted


def required_fields(schema_name, method_id):
    """Top-level fields the discovery document marks required for a method."""
    props = load_schemas()[schema_name]["properties"]
    return sorted(
        name for name, prop in props.items() if method_id in prop.get("annotations", {}).get("required", [])
    )


def validate(schema_name, body, method_id):
    """Raise SchemaError when ``body`` does not match the named schema."""
    schemas = load_schemas()
    if not isinstance(body, dict):
        raise SchemaError("Invalid JSON payload received. Expected an object.", "resource")
    _check(schemas, schemas[schema_name], body, "resource")
    for name in required_fields(schema_name, method_id):
        if body.get(name) in (None, ""):
            raise SchemaError(f"Required field 'resource.{name}' not specified", f"resource.{name}")


def _check(schemas, schema, value, where):
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type", "object")
    if kind == "object":
        _check_object(schemas, schema, value, where)
    elif kind == "array":
        if not isinstance(value, list):
            raise SchemaError(_bad(value, where, "Expected a list"), where)
        for index, item in enumerate(value):
            _check(schemas, schema["items"], item, f"{where}[{index}]")
    elif kind == "string":
        _check_string(schema, value, where)
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(_bad(value, where, "Expected an integer"), where)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(_bad(value, where, "Expected a number"), where)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise SchemaError(_bad(value, where, "Expected a boolean"), where)


def _check_object(schemas, schema, value, where):
    if not isinstance(value, dict):
        raise SchemaError(_bad(value, where, "Expected an object"), where)
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if props is not None and key in props:
            _check(schemas, props[key], item, f"{where}.{key}")
        elif extra is not None:
            _check(schemas, extra, item, f"{where}.{key}")
        else:
            message = f'Invalid JSON payload received. Unknown name "{key}" at \'{where}\': Cannot find field.'
            raise SchemaError(message, f"{where}.{key}", unknown=True)


def _check_string(schema, value, where):
    fmt = schema.get("format", "")
    # Proto JSON writes 64-bit integers as strings but accepts numbers too.
    if fmt in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool):
        return
    if not isinstance(value, str):
        raise SchemaError(_bad(value, where, "Expected a string"), where)
    if fmt in ("int64", "uint64") and not re.fullmatch(r"-?[0-9]+", value):
        raise SchemaError(_bad(value, where, f"Expected a {fmt} number"), where)
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(_bad(value, where, f"Must be one of {schema['enum']}"), where)
    pattern = schema.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        raise SchemaError(_bad(value, where, f"Must be a match of regex '(?:{pattern})'"), where)


def _bad(value, where, why):
    return f"Invalid value for field '{where}': {json.dumps(value)}. {why}"
