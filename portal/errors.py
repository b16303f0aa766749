"""Errors raised by services; views map them onto forms and pages."""

from __future__ import annotations


class PortalError(Exception):
    """Base class: the message is shown to the user (Simplified Chinese)."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(PortalError):
    """Input refused; `reasons` maps field names to messages."""

    def __init__(self, reasons: dict[str, str]):
        super().__init__("；".join(reasons.values()))
        self.reasons = reasons


class NotFound(PortalError):
    """The thing does not exist (or the caller may not know it exists)."""

    status_code = 404


class Forbidden(PortalError):
    """The signed-in user may not do this."""

    status_code = 403


class InvalidTransition(PortalError):
    """The question is not in a state that allows this action."""

    status_code = 409


class QuotaExceeded(PortalError):
    """Too many submissions from one client."""

    status_code = 429
