"""Signed, stateless tokens (password reset) and random secrets (API tokens, join codes, CSRF)."""

import hashlib
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

API_TOKEN_PREFIX = "rr_"
_JOIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_key() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_join_code(length: int = 8) -> str:
    return "".join(secrets.choice(_JOIN_ALPHABET) for _ in range(length))


def normalise_join_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="password-reset")


def password_fingerprint(password_hash: str | None) -> str:
    """Part of the reset token, so a token dies once the password changes (single use)."""
    return hashlib.sha256((password_hash or "-").encode()).hexdigest()[:16]


def make_reset_token(secret_key: str, user_id: int, password_hash: str | None) -> str:
    return _reset_serializer(secret_key).dumps({"u": user_id, "p": password_fingerprint(password_hash)})


def read_reset_token(secret_key: str, token: str, max_age_s: int) -> tuple[int, str] | None:
    """(user id, fingerprint) from a valid token, or None when forged or expired."""
    try:
        data = _reset_serializer(secret_key).loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return data["u"], str(data.get("p", ""))
