"""QR code tokens: a site code's random key, signed so a guessed or altered token is refused
before the database is asked. Revocation is the code row's ``revoked_at``."""

import secrets

from django.core import signing

_SALT = "appointments.site-code"


def new_key() -> str:
    return secrets.token_urlsafe(12)


def token_for(key: str) -> str:
    return signing.Signer(salt=_SALT).sign(key)


def key_from(token: str) -> str | None:
    """The key inside a token, or None if the token was not signed by us."""
    try:
        return signing.Signer(salt=_SALT).unsign(token)
    except signing.BadSignature:
        return None
