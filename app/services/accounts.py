"""Accounts: creating users, signing in with rate limiting, password reset, API tokens."""

from datetime import UTC, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func
from sqlmodel import Session, select

from app.errors import BadInput, Conflict, NotFound, RateLimited
from app.models import ApiToken, LoginAttempt, User
from app.security import tokens
from app.security.passwords import hash_password, password_problem, verify_password
from app.services import audit
from app.services.mail import send_mail
from app.settings import Settings


def normalise_email(email: str) -> str:
    """A syntactically valid, lower-cased address, or BadInput."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise BadInput(f"'{email.strip()[:80]}' is not a valid email address: {exc}") from None


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def create_user(session: Session, email: str, full_name: str, password: str | None = None, *,
                is_admin: bool = False, student_id: str | None = None) -> User:
    email = normalise_email(email)
    if get_user_by_email(session, email):
        raise Conflict(f"An account for {email} exists already.")
    if password is not None and (problem := password_problem(password)):
        raise BadInput(problem)
    user = User(email=email, full_name=full_name.strip() or email, is_admin=is_admin, student_id=student_id,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, settings: Settings, email: str, password: str, ip: str) -> User | None:
    """The user for these credentials or None, recording the attempt; RateLimited after too many failures.

    A failure returns None rather than raising so that the caller commits the recorded attempt.
    """
    email = email.strip().lower()
    since = datetime.now(UTC) - timedelta(seconds=settings.login_window_s)
    failures = session.exec(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.at >= since, LoginAttempt.succeeded == False,  # noqa: E712
            (LoginAttempt.email == email) | (LoginAttempt.ip == ip),
        )
    ).one()
    if failures >= settings.login_max_failures * 4 or _email_failures(session, email, since) >= settings.login_max_failures:
        minutes = max(1, settings.login_window_s // 60)
        raise RateLimited(f"Too many failed sign-ins. Wait {minutes} minutes or reset your password.")
    user = get_user_by_email(session, email)
    ok = user is not None and verify_password(user.password_hash, password)
    session.add(LoginAttempt(email=email, ip=ip, succeeded=ok))
    return user if ok else None


def _email_failures(session: Session, email: str, since: datetime) -> int:
    return session.exec(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.at >= since, LoginAttempt.succeeded == False, LoginAttempt.email == email  # noqa: E712
        )
    ).one()


def set_password(session: Session, user: User, password: str) -> None:
    if problem := password_problem(password):
        raise BadInput(problem)
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    session.add(user)
    audit.record(session, venue_id=None, actor=user, action="account.password", summary="changed the password")


def request_password_reset(session: Session, settings: Settings, email: str) -> None:
    """Email a reset link if the account exists; say nothing either way (no account probing)."""
    user = get_user_by_email(session, email)
    if user is None:
        return
    token = tokens.make_reset_token(settings.resolved_secret_key, user.id, user.password_hash)
    link = f"{settings.base_url.rstrip('/')}/password/reset?token={token}"
    minutes = settings.reset_token_max_age_s // 60
    send_mail(settings, user.email, "Reset your ReproReview password",
              f"Hello {user.full_name},\n\nSomeone (hopefully you) asked to reset the password of this "
              f"ReproReview account. Open this link within {minutes} minutes to choose a new password:\n\n"
              f"{link}\n\nIf it was not you, ignore this email: your password stays as it is.\n")


def reset_password(session: Session, settings: Settings, token: str, password: str) -> User:
    data = tokens.read_reset_token(settings.resolved_secret_key, token, settings.reset_token_max_age_s)
    invalid = BadInput("This reset link is invalid or has expired: ask for a new one.")
    if data is None:
        raise invalid
    user = session.get(User, data[0])
    if user is None or tokens.password_fingerprint(user.password_hash) != data[1]:
        raise invalid
    set_password(session, user, password)
    return user


def create_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name or len(name) > 100:
        raise BadInput("Give the token a name of 1 to 100 characters (e.g. 'grading script').")
    plaintext = tokens.new_api_token()
    token = ApiToken(user_id=user.id, name=name, token_hash=tokens.token_digest(plaintext))
    session.add(token)
    session.flush()
    return token, plaintext


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.exec(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at == None)  # noqa: E711
        .order_by(ApiToken.id)
    ).all())


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound("No such token.")
    token.revoked_at = datetime.now(UTC)
    session.add(token)


def user_from_api_token(session: Session, plaintext: str) -> tuple[User | None, ApiToken | None]:
    """The user and token for a bearer token (reads only; see touch_api_token)."""
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == tokens.token_digest(plaintext))).first()
    if token is None or token.revoked_at is not None:
        return None, None
    return session.get(User, token.user_id), token


def token_needs_touch(token: ApiToken) -> bool:
    """last_used_at is coarse (5 minutes), so scripts do not write on every call."""
    return token.last_used_at is None or datetime.now(UTC) - token.last_used_at > timedelta(minutes=5)


def touch_api_token(session: Session, token_id: int) -> None:
    from sqlalchemy import update

    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=datetime.now(UTC)))
