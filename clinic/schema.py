"""OpenAPI (drf-spectacular) descriptions of the app's own authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PasswordBasicScheme(OpenApiAuthenticationExtension):
    """HTTP Basic, for accounts without two-step sign-in (clinic.authentication)."""

    target_class = "clinic.authentication.PasswordBasicAuthentication"
    match_subclasses = True
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Only for accounts without two-step sign-in; others send a token.",
        }
