"""One database operation = one Locust request: timed, and failed when it raises.

Locust's HTTP clients fire its `request` event themselves; psycopg does not, so every operation
runs inside `request()`, which fires the event with the operation's wall time. The request type
says what kind of work it was (`sql` for a shop write, `e2e` for the commit-to-warehouse probe),
the name which operation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from greenlet import GreenletExit
from locust.env import Environment


@contextmanager
def request(environment: Environment, request_type: str, name: str) -> Iterator[None]:
    """Time the block and report it; an exception is reported as the request's failure and
    swallowed, so one failed operation does not end the user (Locust counts it instead)."""
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        yield
    except Exception as exc:
        if (killed := greenlet_exit(exc)) is not None:
            raise killed from None  # the run is ending: let the user go (see below)
        error = exc
    report(environment, request_type, name, time.perf_counter() - started, error)


def greenlet_exit(exc: BaseException) -> GreenletExit | None:
    """The GreenletExit an error was raised while handling, if any.

    Locust ends a user by raising GreenletExit wherever it is. Inside a psycopg pipeline (an
    `executemany`) the library's clean-up then raises OperationalError in its place; swallowing
    that as a failed request would keep the user alive on a broken connection, and the run
    would never end.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, GreenletExit):
            return seen
        seen = seen.__context__
    return None


def report(
    environment: Environment,
    request_type: str,
    name: str,
    seconds: float,
    error: BaseException | None = None,
) -> None:
    """Fire Locust's request event for an operation measured elsewhere."""
    environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=seconds * 1000.0,
        response_length=0,
        exception=error,
        context={},
    )
