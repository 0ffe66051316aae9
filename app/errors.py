"""Domain exceptions, mapped once to HTTP responses (API) and friendly messages (pages) in app.main."""


class DomainError(Exception):
    """A request that cannot be carried out; the message is for the person who made it."""

    status_code = 400
    code = "bad-request"
    headers: dict[str, str] | None = None  # sent with the answer (Retry-After)

    def __init__(self, message: str, *, details: list | dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadInput(DomainError):
    status_code = 422
    code = "bad-input"


class NotFound(DomainError):
    status_code = 404
    code = "not-found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotSignedIn(DomainError):
    status_code = 401
    code = "not-signed-in"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PhaseError(Conflict):
    code = "phase"


class DeadlinePassed(Conflict):
    code = "deadline-passed"


class TooLarge(DomainError):
    status_code = 413
    code = "too-large"


class RateLimited(DomainError):
    status_code = 429
    code = "rate-limited"

    def __init__(self, message: str, *, retry_after: int | None = None, details: list | dict | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after  # seconds, sent as Retry-After
        if retry_after:
            self.headers = {"Retry-After": str(retry_after)}


class CsrfError(DomainError):
    status_code = 403
    code = "csrf"


class Busy(DomainError):
    """The database stayed locked by other writers for the whole busy timeout: nothing was changed; try again."""

    status_code = 503
    code = "busy"
    headers = {"Retry-After": "2"}
