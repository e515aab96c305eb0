"""Errors the CLI prints as one line (what is wrong, what to do) instead of a stack trace."""


class EtlError(Exception):
    """A problem the user can act on; `str(err)` is the one line to print."""


class PrerequisiteMissing(EtlError):
    """A binary, jar or package the stack needs is not installed."""


class ComponentFailed(EtlError):
    """A component did not come up; carries the tail of its log."""

    def __init__(self, component: str, reason: str, log_tail: str = "") -> None:
        super().__init__(f"{component}: {reason}")
        self.component = component
        self.log_tail = log_tail
