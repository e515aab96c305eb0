"""Load shapes: steady, ramp, spike and step, one chosen per run by `LOAD_SHAPE`.

Locust runs the first shape class it finds in the locustfile, so the locustfile exposes exactly
one: `shape_named(os.environ.get("LOAD_SHAPE", "steady"))`. One mechanism for headless runs, the
web UI and `make load` alike (the web UI then shows the chosen shape).

Every shape reads Locust's own common options (`use_common_options`): `-u` is the peak number of
users (the end-to-end probe is one of them), `-r` the spawn rate, `-t` the whole run's length.
Each shape returns None at the end of `-t`, which ends the run.

- steady: `-u` users for the whole run.
- ramp: from 1 user up to `-u`, linearly over the run.
- spike: a fifth of `-u` (at least 2), `-u` for the middle fifth of the run, then back.
- step: `-u` reached in `LOAD_STEPS` (default 5) equal steps, each held for run/steps.
"""

from __future__ import annotations

import math
import os

from locust import LoadTestShape

DEFAULT_USERS = 10
DEFAULT_RUN_TIME_S = 60


class _OptionShape(LoadTestShape):
    """Peak users, spawn rate and run length from `-u`, `-r`, `-t` (defaults if not given)."""

    abstract = True
    use_common_options = True

    def options(self) -> tuple[int, float, float]:
        parsed = self.runner.environment.parsed_options if self.runner else None
        users = getattr(parsed, "num_users", None) or DEFAULT_USERS
        spawn_rate = getattr(parsed, "spawn_rate", None) or float(users)
        run_time = getattr(parsed, "run_time", None) or DEFAULT_RUN_TIME_S
        return int(users), float(spawn_rate), float(run_time)

    def tick(self) -> tuple[int, float] | None:
        users, spawn_rate, run_time = self.options()
        elapsed = self.get_run_time()
        if elapsed >= run_time:
            return None
        return max(1, self.users_at(elapsed / run_time, users)), spawn_rate

    def users_at(self, progress: float, users: int) -> int:
        """How many users at `progress` (0 to 1) of the run, for a peak of `users`."""
        raise NotImplementedError


class SteadyShape(_OptionShape):
    """The same load all along: the figures of one operating point."""

    def users_at(self, progress: float, users: int) -> int:
        return users


class RampShape(_OptionShape):
    """Load rising linearly: where latency starts to climb."""

    def users_at(self, progress: float, users: int) -> int:
        return math.ceil(users * progress) or 1


class SpikeShape(_OptionShape):
    """A sudden burst and back: whether the pipeline drains a backlog and recovers."""

    def users_at(self, progress: float, users: int) -> int:
        base = max(2, users // 5)
        return users if 0.4 <= progress < 0.6 else min(base, users)


class StepShape(_OptionShape):
    """Load held at each of a few levels: one steady operating point per step."""

    def users_at(self, progress: float, users: int) -> int:
        steps = max(1, int(os.environ.get("LOAD_STEPS", "5")))
        step = min(steps, int(progress * steps) + 1)
        return math.ceil(users * step / steps)


SHAPES: dict[str, type[_OptionShape]] = {
    "steady": SteadyShape,
    "ramp": RampShape,
    "spike": SpikeShape,
    "step": StepShape,
}


def shape_named(name: str) -> type[_OptionShape]:
    """The shape class for `LOAD_SHAPE`; a bad name stops Locust with one line saying the choice."""
    try:
        return SHAPES[name.strip().lower()]
    except KeyError:
        raise SystemExit(
            f"LOAD_SHAPE={name!r} is not a load shape: choose one of {', '.join(SHAPES)}"
        ) from None
