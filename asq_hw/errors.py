"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input, a bad artifact or a missing tool; the message says what and how to fix it."""


class ToolNotFoundError(UserError):
    """A simulator or synthesis tool is not installed."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so the same clean-up runs."""
