"""API plumbing shared by every app: the one error body, the error catalogue view."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import CATALOGUE, error_body

_CODE_BY_EXCEPTION = [
    (Http404, "not_found"),
    (DjangoPermissionDenied, "permission_denied"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.Throttled, "throttled"),
]


def exception_handler(exc, context):
    """Render every DRF error as ``{"error": {"code", "message", "details"}}``."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's 500 handler answers with the same body
    code = getattr(exc, "catalogue_code", None)
    if code is None:
        code = next((c for cls, c in _CODE_BY_EXCEPTION if isinstance(exc, cls)), "server_error")
    details = None
    message = None
    if isinstance(exc, exceptions.ValidationError):
        details = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
    elif isinstance(response.data, dict) and "detail" in response.data:
        message = response.data["detail"]
        details = getattr(exc, "details", None)
    response.data = error_body(code, message, details)
    return response


class DomainError(exceptions.APIException):
    """Raise with a catalogue code from API views for errors that are not plain DRF ones."""

    def __init__(self, code: str, message: str | None = None, details=None):
        entry = CATALOGUE[code]
        self.status_code = entry.status
        self.catalogue_code = code
        self.details = details
        super().__init__(detail=message or entry.description)


class ErrorCatalogueView(APIView):
    """The stable error codes this API returns."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        status = serializers.IntegerField()
        description = serializers.CharField()

        class Meta:
            ref_name = "ErrorCode"  # a component name of its own in the OpenAPI schema

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        data = [
            {"code": e.code, "status": e.status, "description": str(e.description)}
            for e in CATALOGUE.values()
        ]
        return Response(self.OutputSerializer(data, many=True).data)


def json_error_response(request, code: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code), status=status)


def handler404(request, exception=None):
    """JSON error body under /api/ and /dicomweb/; Django's page elsewhere."""
    if request.path.startswith(("/api/", "/dicomweb/")):
        return json_error_response(request, "not_found", 404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith(("/api/", "/dicomweb/")):
        return json_error_response(request, "server_error", 500)
    from django.views.defaults import server_error

    return server_error(request)
