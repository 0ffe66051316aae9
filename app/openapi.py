"""The OpenAPI description as the API really answers: every error body is `{"detail": str, "code": str,
"details"?: ...}` (app.main maps DomainError and validation errors to it; FastAPI's default describes a
validation error whose `detail` is an array), and each operation declares the error statuses it can give.

Which statuses, from what every route shares: 401 (not signed in) and 403 (a permission, a CSRF token) unless
the operation is public; 404 with path parameters (a resource, or an id out of INTEGER range); 409 for writes (phase,
deadline, a concurrent change); 413 for uploads; 422 for input; 429 where sign-in attempts are limited; 503
when the database stayed busy (with Retry-After). File downloads declare their own content types on the route.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.schemas import ErrorOut

__all__ = ["install_openapi", "PUBLIC_OPERATIONS", "RATE_LIMITED_OPERATIONS"]

PUBLIC_OPERATIONS = {("post", "/api/v1/session"), ("delete", "/api/v1/session"), ("post", "/api/v1/password/forgot"),
                     ("post", "/api/v1/password/reset")}
RATE_LIMITED_OPERATIONS = {("post", "/api/v1/session"), ("post", "/api/v1/password/forgot"),
                           ("post", "/api/v1/password/reset")}
_REF = {"$ref": "#/components/schemas/Error"}
_WHY = {"401": "Not signed in (or the token is invalid)", "403": "Not allowed, or a missing CSRF token",
        "404": "No such resource (or not one this viewer may see)", "409": "Not now: phase, deadline or a "
        "concurrent change", "413": "The upload is too large", "422": "The input is not valid",
        "429": "Too many attempts: wait, then try again", "503": "The database is busy: retry after Retry-After"}


def _error(code: str) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _WHY[code], "content": {"application/json": {"schema": _REF}}}
    if code in ("429", "503"):
        out["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait"}}
    return out


def _statuses(method: str, path: str, op: dict) -> list[str]:
    codes = ["422", "503"]
    if (method, path) not in PUBLIC_OPERATIONS:
        codes += ["401", "403", "409"]  # 409 on reads too: an export before marks are released
    if "{" in path:
        codes.append("404")
    if method in ("post", "put", "patch", "delete"):
        codes += ["403", "409"]
    if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
        codes.append("413")
    if (method, path) in RATE_LIMITED_OPERATIONS:
        codes.append("429")
    return sorted(set(codes))


def truthful_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description with the error bodies and statuses the API really has."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components["Error"]["title"] = "Error"
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            for code in _statuses(method, path, op):
                declared = responses.get(code)
                if declared is None or "HTTPValidationError" in str(declared) or "ErrorOut" in str(declared):
                    responses[code] = _error(code)
    if "#/components/schemas/ErrorOut" not in json.dumps(schema):
        components.pop("ErrorOut", None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve truthful_schema at /openapi.json (built once per process, like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
