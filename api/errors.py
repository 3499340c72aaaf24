"""RFC 7807 problem documents: the one place where every failure becomes an HTTP answer."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from activities import errors as error_types

log = logging.getLogger("slipway.api")

PROBLEM_BASE = "https://slipway.dev/problems/"
PROBLEM_JSON = "application/problem+json"

# ApplicationError.type raised by workflows -> (HTTP status, problem slug, title)
WORKFLOW_ERRORS: dict[str, tuple[int, str, str]] = {
    error_types.INVALID_TRANSITION: (
        409,
        "invalid-transition",
        "The run cannot do that in its current status",
    ),
    error_types.GIT_FAILED: (502, "git-failed", "The git operation failed"),
    error_types.PUSH_REJECTED: (409, "push-rejected", "The remote rejected the push"),
}


class Problem(Exception):
    def __init__(
        self, status: int, slug: str, title: str, detail: str | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extensions = extensions


def not_found(kind: str, ident: object) -> Problem:
    return Problem(
        404,
        f"{kind}-not-found",
        f"{kind.capitalize()} not found",
        f"{kind.capitalize()} {ident} does not exist.",
    )


def problem_response(request: Request, p: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + p.slug,
        "title": p.title,
        "status": p.status,
    }
    if p.detail:
        body["detail"] = p.detail
    body["instance"] = request.url.path
    body.update({k: v for k, v in p.extensions.items() if v is not None})
    return JSONResponse(body, status_code=p.status, media_type=PROBLEM_JSON)


def _clean_validation_errors(errors: list[Any]) -> list[dict[str, Any]]:
    cleaned = []
    for e in errors:
        loc = [str(part) for part in e.get("loc", ())]
        cleaned.append({"loc": loc, "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))})
    return cleaned


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _clean_validation_errors(list(exc.errors()))
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                request,
                Problem(
                    400,
                    "malformed-json",
                    "Malformed JSON",
                    "The request body is not valid JSON.",
                    errors=errors,
                ),
            )
        return problem_response(
            request,
            Problem(
                422,
                "validation-error",
                "The request is not valid",
                "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors),
                errors=errors,
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(request, Problem(exc.status_code, slug, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            Problem(
                500,
                "internal-error",
                "Internal server error",
                "Something went wrong on the server; it has been logged.",
            ),
        )
