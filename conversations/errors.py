"""Errors a client can cause; each maps to one wire `code`."""

from __future__ import annotations


class ChatError(Exception):
    """Base: `code` is the contract's error code, `detail` is safe to show."""

    code = "bad_request"
    http_status = 400

    def __init__(self, detail: str, *, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.client_id = client_id


class BadRequest(ChatError):
    code = "bad_request"


class TooLong(ChatError):
    code = "too_long"


class NotMember(ChatError):
    code = "not_member"


class NotFound(ChatError):
    code = "not_found"
    http_status = 404

    def __init__(self, detail: str = "No such conversation.", **kwargs: object) -> None:
        super().__init__(detail, **kwargs)  # type: ignore[arg-type]


class RateLimited(ChatError):
    code = "rate_limited"
    http_status = 429


class Blocked(ChatError):
    code = "blocked"
    http_status = 403


class Forbidden(ChatError):
    """The caller itself is not (or no longer) an active member."""

    code = "forbidden"
    http_status = 403


class NotAllowed(ChatError):
    """The message is visible to the caller but not theirs to change."""

    code = "not_allowed"
    http_status = 403


class EditWindowClosed(ChatError):
    code = "edit_window_closed"
    http_status = 403


class BadAttachment(ChatError):
    """An attachment id that is not the sender's unused upload there."""

    code = "bad_attachment"


class TooLarge(ChatError):
    """An upload over ATTACHMENT_MAX_BYTES, or an image with too many pixels."""

    code = "too_large"
    http_status = 413


class UnsupportedType(ChatError):
    """An upload that is not JPEG, PNG, WebP or PDF, judged by its content."""

    code = "unsupported_type"


class WrongPassword(ChatError):
    """A request that must be confirmed with the resident's password (an
    account erasure) came with another one."""

    code = "wrong_password"
    http_status = 403
