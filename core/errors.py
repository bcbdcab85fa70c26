"""The one exception type that reaches a user as a single line.

Every user mistake (a missing file, a bad URL, a bad config value, a wrong checkpoint) is raised as a
`FallWatchError` whose message names the thing and what was expected; the CLI prints it on one line and
exits non-zero instead of showing a traceback.
"""


class FallWatchError(Exception):
    """A user-facing error: its message is one line that names the thing and what was expected."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class SourceError(FallWatchError):
    """A camera source cannot be opened or read."""


class TruncatedVideoError(FallWatchError):
    """A file ended before its declared length; what could be read was processed."""

    exit_code = 3
