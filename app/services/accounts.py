"""Accounts: creating users, signing in with rate limiting, password reset, API tokens."""

from datetime import UTC, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func
from sqlmodel import Session, select

from app.errors import BadInput, Conflict, NotFound, RateLimited
from app.models import ApiToken, LoginAttempt, User, UserSession
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
    """The user for these credentials or None, recording the attempt; RateLimited (with retry_after) when locked.

    Limits: failures of one address from one IP (login_max_failures in login_window_s) lock that pair only, so a
    stranger cannot lock someone out from elsewhere; failures from one IP over all addresses (4x) lock that IP;
    failures of one address across IPs (login_address_max_failures) only slow it down (a delay from
    login_backoff_s, doubling, at most the window). A password reset lifts them all.
    A failure returns None rather than raising so that the caller commits the recorded attempt.
    """
    email = email.strip().lower()
    now = datetime.now(UTC)
    wait = login_wait_s(session, settings, email, ip, now)
    if wait > 0:
        minutes = max(1, -(-wait // 60))
        raise RateLimited(f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes != 1 else ''} "
                          "or reset your password.", retry_after=wait)
    user = get_user_by_email(session, email)
    ok = user is not None and verify_password(user.password_hash, password)
    session.add(LoginAttempt(email=email, ip=ip[:64], succeeded=ok))
    return user if ok else None


def _failure_times(session: Session, since: datetime, limit: int, *conditions) -> list[datetime]:  # noqa: ANN002
    """The latest `limit` failed password sign-ins since `since` matching `conditions`, newest first."""
    return list(session.exec(
        select(LoginAttempt.at).where(LoginAttempt.at >= since, LoginAttempt.succeeded == False,  # noqa: E712
                                      LoginAttempt.kind == "password", *conditions)
        .order_by(LoginAttempt.at.desc()).limit(limit)
    ).all())


def login_wait_s(session: Session, settings: Settings, email: str, ip: str, now: datetime | None = None) -> int:
    """Seconds until this address may try to sign in from this IP again (0: now)."""
    now = now or datetime.now(UTC)
    window = timedelta(seconds=settings.login_window_s)
    since = now - window
    # Failures before a success count no more: the owner's success lifts the address's count; a success from
    # this IP or a password reset lifts this pair's.
    succeeded = (LoginAttempt.email == email) & (LoginAttempt.succeeded == True)  # noqa: E712
    lifted = session.exec(select(func.max(LoginAttempt.at)).where(succeeded)).one()
    pair_lifted = session.exec(select(func.max(LoginAttempt.at)).where(
        succeeded, (LoginAttempt.ip == ip) | (LoginAttempt.kind == "reset"))).one()
    email_since = max(since, lifted) if lifted else since
    pair_since = max(since, pair_lifted) if pair_lifted else since
    waits = [0.0]
    pair_max, ip_max = settings.login_max_failures, settings.login_max_failures * 4
    pair = _failure_times(session, pair_since, pair_max, LoginAttempt.email == email, LoginAttempt.ip == ip)
    if len(pair) >= pair_max:
        waits.append((pair[pair_max - 1] + window - now).total_seconds())
    by_ip = _failure_times(session, since, ip_max, LoginAttempt.ip == ip)
    if len(by_ip) >= ip_max:
        waits.append((by_ip[ip_max - 1] + window - now).total_seconds())
    threshold = settings.login_address_max_failures
    address_failures = session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.at >= email_since, LoginAttempt.succeeded == False,  # noqa: E712
        LoginAttempt.kind == "password", LoginAttempt.email == email)).one()
    if address_failures >= threshold:
        latest = _failure_times(session, email_since, 1, LoginAttempt.email == email)[0]
        delay = min(settings.login_window_s, settings.login_backoff_s * 2 ** min(address_failures - threshold, 20))
        waits.append((latest + timedelta(seconds=delay) - now).total_seconds())
    return max(0, int(-(-max(waits) // 1)))


def prune_login_attempts(session: Session, settings: Settings, now: datetime | None = None) -> None:
    """Attempts older than every window that reads them are of no use: delete them (called on sign-in)."""
    keep_s = max(settings.login_window_s, RESET_MAIL_WINDOW_S, 24 * 3600)
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=keep_s)
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff))


def set_password(session: Session, user: User, password: str, *, keep_session: str | None = None) -> None:
    """A new password; every session of the user ends except `keep_session` (the browser that changed it)."""
    if problem := password_problem(password):
        raise BadInput(problem)
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    session.add(user)
    end_sessions(session, user, except_key=keep_session)
    audit.record(session, venue_id=None, actor=user, action="account.password", summary="changed the password")


RESET_MAIL_WINDOW_S = 3600


def request_password_reset(session: Session, settings: Settings, email: str, ip: str = "unknown") -> None:
    """Email a reset link if the account exists, at most reset_mail_max_per_hour per address; say nothing either
    way (no account probing, and the throttle does not show in the answer either)."""
    user = get_user_by_email(session, email)
    if user is None:
        return
    since = datetime.now(UTC) - timedelta(seconds=RESET_MAIL_WINDOW_S)
    sent = session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.email == user.email, LoginAttempt.kind == "reset-mail", LoginAttempt.at >= since)).one()
    if sent >= settings.reset_mail_max_per_hour:
        return
    session.add(LoginAttempt(email=user.email, ip=ip[:64], succeeded=False, kind="reset-mail"))
    token = tokens.make_reset_token(settings.resolved_secret_key, user.id, user.password_hash)
    link = f"{settings.base_url.rstrip('/')}/password/reset?token={token}"
    minutes = settings.reset_token_max_age_s // 60
    send_mail(settings, user.email, "Reset your ReproReview password",
              f"Hello {user.full_name},\n\nSomeone (hopefully you) asked to reset the password of this "
              f"ReproReview account. Open this link within {minutes} minutes to choose a new password:\n\n"
              f"{link}\n\nIf it was not you, ignore this email: your password stays as it is.\n")


def reset_password(session: Session, settings: Settings, token: str, password: str, ip: str = "unknown") -> User:
    """A new password from an emailed link: signs out every session and lifts a sign-in lock-out."""
    data = tokens.read_reset_token(settings.resolved_secret_key, token, settings.reset_token_max_age_s)
    invalid = BadInput("This reset link is invalid or has expired: ask for a new one.")
    if data is None:
        raise invalid
    user = session.get(User, data[0])
    if user is None or tokens.password_fingerprint(user.password_hash) != data[1]:
        raise invalid
    set_password(session, user, password)
    session.add(LoginAttempt(email=user.email, ip=ip[:64], succeeded=True, kind="reset"))  # lifts the lock-out
    return user


# ---- server-side sessions (the cookie carries the key; only its SHA-256 is kept) -------------------------------

SESSION_TOUCH_S = 3600  # last_seen_at is coarse, so a signed-in browser does not write on every request


def start_session(session: Session, settings: Settings, user: User, user_agent: str = "") -> str:
    """A new session for `user`; returns the key for the cookie. Expired sessions are deleted here (lazily)."""
    now = datetime.now(UTC)
    session.execute(delete(UserSession).where(
        UserSession.last_seen_at < now - timedelta(seconds=settings.session_max_age_s)))
    prune_login_attempts(session, settings, now)
    key = tokens.new_session_key()
    session.add(UserSession(user_id=user.id, key_hash=tokens.token_digest(key), created_at=now, last_seen_at=now,
                            user_agent=user_agent[:200]))
    session.flush()
    return key


def user_from_session(session: Session, settings: Settings, key: str) -> tuple[User | None, UserSession | None]:
    """The user and session row for a cookie's key, unless signed out or expired (reads only)."""
    row = session.exec(select(UserSession).where(UserSession.key_hash == tokens.token_digest(key))).first()
    if row is None or datetime.now(UTC) - row.last_seen_at > timedelta(seconds=settings.session_max_age_s):
        return None, None
    return session.get(User, row.user_id), row


def session_needs_touch(row: UserSession) -> bool:
    return datetime.now(UTC) - row.last_seen_at > timedelta(seconds=SESSION_TOUCH_S)


def touch_session(session: Session, session_id: int) -> None:
    from sqlalchemy import update

    session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=datetime.now(UTC)))


def end_session(session: Session, key: str) -> None:
    """Sign one session out (its cookie, wherever copied, is refused from now on)."""
    session.execute(delete(UserSession).where(UserSession.key_hash == tokens.token_digest(key)))


def end_sessions(session: Session, user: User, *, except_key: str | None = None) -> int:
    """Sign `user` out everywhere (except the session `except_key`); returns how many sessions ended."""
    query = delete(UserSession).where(UserSession.user_id == user.id)
    if except_key:
        query = query.where(UserSession.key_hash != tokens.token_digest(except_key))
    return session.execute(query).rowcount or 0


def list_sessions(session: Session, user: User) -> list[UserSession]:
    return list(session.exec(select(UserSession).where(UserSession.user_id == user.id)
                             .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())).all())


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
