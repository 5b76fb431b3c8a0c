"""The error-code catalogue: every error the API returns carries one of these stable codes.

Clients branch on ``code``; ``message`` is for people and follows the request's language.
Other apps add their codes here so the catalogue stays the single list published at
``/api/v1/errors/``.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    description: str


CATALOGUE: dict[str, ErrorCode] = {
    entry.code: entry
    for entry in [
        ErrorCode("not_authenticated", 401, _("No credentials were given.")),
        ErrorCode("authentication_failed", 401, _("The credentials were wrong.")),
        ErrorCode(
            "api_token_required",
            401,
            _("Accounts with two-step sign-in send an API token, not a password."),
        ),
        ErrorCode(
            "mfa_code_required", 400, _("Enter the code from your authenticator app.")
        ),
        ErrorCode("mfa_code_wrong", 400, _("The code is wrong or was already used.")),
        ErrorCode("permission_denied", 403, _("Your role does not allow this action.")),
        ErrorCode(
            "mfa_required",
            403,
            _("Finish two-step sign-in in the browser first: enter the code from your app."),
        ),
        ErrorCode("not_found", 404, _("No such object, or you may not see it.")),
        ErrorCode("method_not_allowed", 405, _("This URL does not accept that HTTP method.")),
        ErrorCode("not_acceptable", 406, _("The requested media type cannot be produced.")),
        ErrorCode(
            "unsupported_media_type", 415, _("The request body's media type is not accepted.")
        ),
        ErrorCode("parse_error", 400, _("The request body could not be parsed.")),
        ErrorCode(
            "validation_error", 400, _("Some fields are invalid; details lists them per field.")
        ),
        ErrorCode(
            "break_glass_reason_required",
            400,
            _("Emergency access needs a reason of at least 10 characters."),
        ),
        ErrorCode("payload_too_large", 413, _("The request body is larger than allowed.")),
        ErrorCode(
            "conflict", 409, _("The request conflicts with the current state of the object.")
        ),
        ErrorCode("throttled", 429, _("Too many requests; retry later.")),
        ErrorCode("server_error", 500, _("An unexpected error occurred; it has been logged.")),
    ]
}


def error_body(code: str, message: str | None = None, details=None) -> dict:
    if code not in CATALOGUE:
        raise KeyError(f"error code {code!r} is not in the catalogue")
    return {
        "error": {
            "code": code,
            "message": str(message if message is not None else CATALOGUE[code].description),
            "details": details,
        }
    }
