"""Errors in Google's JSON error format (what google-api-core parses)."""

REASONS = {
    400: ("invalid", "INVALID_ARGUMENT"),
    403: ("forbidden", "PERMISSION_DENIED"),
    404: ("notFound", "NOT_FOUND"),
    409: ("alreadyExists", "ALREADY_EXISTS"),
    412: ("conditionNotMet", "FAILED_PRECONDITION"),
    429: ("rateLimitExceeded", "RESOURCE_EXHAUSTED"),
    500: ("backendError", "INTERNAL"),
    501: ("notImplemented", "UNIMPLEMENTED"),
    503: ("backendError", "UNAVAILABLE"),
}

# The text GCE puts into an operation's httpErrorMessage.
HTTP_MESSAGES = {
    400: "BAD REQUEST",
    403: "FORBIDDEN",
    404: "NOT FOUND",
    409: "CONFLICT",
    412: "PRECONDITION FAILED",
    429: "TOO MANY REQUESTS",
    500: "INTERNAL SERVER ERROR",
    501: "NOT IMPLEMENTED",
    503: "SERVICE UNAVAILABLE",
}


class ApiError(Exception):
    def __init__(self, code, message, reason=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, ("error", "UNKNOWN"))[0]

    def body(self):
        status = REASONS.get(self.code, ("error", "UNKNOWN"))[1]
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
                "status": status,
            }
        }


def not_found(path):
    return ApiError(404, f"The resource '{path}' was not found")


def already_exists(path):
    return ApiError(409, f"The resource '{path}' already exists")


def forbidden(permission, path):
    return ApiError(403, f"Required '{permission}' permission for '{path}'")


def invalid(message):
    return ApiError(400, message)


def not_implemented(method, path, method_id=None):
    what = f"Compute v1 method '{method_id}'" if method_id else "No Compute v1 method"
    return ApiError(501, f"{what} ({method} {path}) is not implemented by the Compute test server.")
