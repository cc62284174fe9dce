"""The project's exception tree.

    ReewatchError
     ├── ConfigError          bad settings or feeds.yaml (exit code 2)
     ├── UsageError           bad command-line or slash-command input (exit code 2)
     ├── FetchError           a feed could not be fetched; `reason` is stored on the feed
     │    └── BlockedAddressError   the SSRF guard refused a URL or address
     ├── ParseError           a body that is not a usable feed
     └── SlackDeliveryError   a post that cannot succeed (channel_not_found, invalid_auth, ...)
"""

from __future__ import annotations


class ReewatchError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(ReewatchError):
    """Settings or feeds.yaml are wrong; the message says what and where."""


class UsageError(ReewatchError):
    """The user asked for something malformed; the message is the usage line."""


class FetchError(ReewatchError):
    """A feed fetch failed. `reason` is a short stable code, `status` the HTTP status if any."""

    def __init__(self, reason: str, message: str = "", *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class BlockedAddressError(FetchError):
    """The URL or an address it resolved to is not allowed (SSRF guard)."""

    def __init__(self, message: str) -> None:
        super().__init__("blocked_address", message)


class ParseError(ReewatchError):
    """The body is not a feed we can read."""


class SlackDeliveryError(ReewatchError):
    """Slack answered with an error that retrying will not fix."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error
