"""The capacity finder's and the comparison's own logic: when a rate counts as sustained, which
rate is a target's capacity, R, the rates option, and the chart and table drawn from a result."""

from __future__ import annotations

import pytest
import typer
from rich.console import Console

from app.capacity import Step, TargetStep, capacities, judge, shoppers_for
from app.compare import CompareResult, ratio
from app.compare_report import print_compare, ratio_line, ratio_note, save_chart
from app.params import parse_rates
from app.shop import TASK_WEIGHTS, tasks_per_order

pytestmark = pytest.mark.unit


def target(p95: float | None, backlog: float | None = 0.3, *, ok: bool = True) -> TargetStep:
    return TargetStep(
        samples=20, failures=0, p50_s=p95, p95_s=p95, p99_s=p95, backlog_s=backlog, sustained=ok
    )


def step(rate: float, *, short: bool = False, **targets: TargetStep) -> Step:
    return Step(
        offered_orders_per_s=rate,
        orders_per_s=rate * 0.98,
        events_per_s=rate * 7.1,
        seconds=31.0,
        generator_short=short,
        targets=targets,
        report_html=f"rate-{rate:g}.html",
    )


@pytest.mark.parametrize(
    ("samples", "failures", "p95", "backlog", "short", "sustained"),
    [
        (20, 0, 0.4, 0.3, False, True),
        (20, 0, 2.0, 2.0, False, True),  # the bound itself is still within
        (20, 0, 2.1, 0.3, False, False),  # p95 over the bound
        (20, 0, 0.4, 9.0, False, False),  # lag kept growing: the backlog left is long
        (20, 0, 0.4, None, False, False),  # never drained
        (20, 1, 0.4, 0.3, False, False),  # a probe order timed out
        (0, 0, None, 0.3, False, False),  # no sample at all
        (20, 0, 0.4, 0.3, True, False),  # the rate was not really offered
    ],
)
def test_judge(samples, failures, p95, backlog, short, sustained):
    assert judge(samples, failures, p95, backlog, 2.0, short) is sustained


def test_capacity_is_the_last_rate_before_the_first_miss():
    steps = [
        step(25, pipeline=target(0.3), jdbc=target(0.5)),
        step(50, pipeline=target(0.4), jdbc=target(3.0, ok=False)),
        step(100, pipeline=target(2.5, ok=False)),  # jdbc left the ladder at 50
    ]
    found = capacities(steps, ["pipeline", "jdbc", "logical"])
    assert found["pipeline"].offered_orders_per_s == 50
    assert found["pipeline"].orders_per_s == pytest.approx(49.0)
    assert found["pipeline"].events_per_s == pytest.approx(355.0)
    assert not found["pipeline"].at_ladder_top
    assert found["jdbc"].offered_orders_per_s == 25
    assert found["logical"].orders_per_s == 0  # never measured: no capacity claimed


def test_a_target_that_sustains_every_rate_is_marked_at_the_top():
    steps = [step(25, logical=target(0.01)), step(50, logical=target(0.01))]
    assert capacities(steps, ["logical"])["logical"].at_ladder_top


def result(steps: list[Step], *, ceiling: bool = True) -> CompareResult:
    names = ["pipeline", "jdbc", "logical"]
    found = capacities(steps, names)
    base = {
        "bound_s": 2.0,
        "step_seconds": 30.0,
        "steps": steps,
        "capacity": found,
        "run_dir": "/tmp/run",
        "started_at": "2026-11-29T05:00:00+00:00",
        "machine": "Linux x86_64, 2 cores, 24 GiB",
    }
    ceiling_value = (
        {
            "orders_per_s": 480.0,
            "events_per_s": 3400.0,
            "shoppers": 16,
            "seconds": 30.0,
            "caught_up_s": 41.0,
        }
        if ceiling
        else None
    )
    partial = CompareResult.model_validate(
        {
            **base,
            "fixed_rate": 50.0,
            "ceiling": ceiling_value,
            "ceiling_skipped": None if ceiling else "needs the local stack",
            "ratio": None,
            "chart": "/tmp/run/compare.png",
        }
    )
    return partial.model_copy(update={"ratio": ratio(partial)})


def ladder() -> list[Step]:
    return [
        step(25, pipeline=target(0.3), jdbc=target(0.5), logical=target(0.004)),
        step(50, pipeline=target(0.4), jdbc=target(3.0, ok=False), logical=target(0.0)),
        step(100, pipeline=target(2.5, ok=False), logical=target(0.01)),
    ]


def test_ratio_divides_the_pipelines_capacity_by_the_jdbc_peers():
    compared = result(ladder())
    assert compared.ratio == pytest.approx(2.0)
    assert ratio_line(compared) == "pipeline/peer: 2.00"


def test_ratio_without_a_peer_capacity_says_why():
    steps = [step(25, pipeline=target(0.3), jdbc=target(5.0, ok=False), logical=target(0.01))]
    compared = result(steps)
    assert compared.ratio is None
    assert ratio_line(compared) == "pipeline/peer: n/a"
    assert "sustained none" in (ratio_note(compared) or "")


def test_table_ends_with_the_ratio_line():
    console = Console(width=80, record=True)  # a narrow terminal wraps nothing of the ratio
    print_compare(console, result(ladder()))
    text = console.export_text()
    assert "(ceiling)" in text
    assert "480.0" in text
    assert text.rstrip().splitlines()[-1] == "pipeline/peer: 2.00"


def test_chart_is_a_png(tmp_path):
    path = tmp_path / "chart" / "compare.png"
    save_chart(result(ladder()), path)
    save_chart(result(ladder(), ceiling=False), tmp_path / "no-ceiling.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_parse_rates():
    assert parse_rates("100, 25,50,50") == [25.0, 50.0, 100.0]
    for bad in ("", "25,x", "0,10", "-5"):
        with pytest.raises(typer.BadParameter):
            parse_rates(bad)


def test_shoppers_have_time_for_each_operation():
    assert tasks_per_order() == sum(TASK_WEIGHTS.values()) / TASK_WEIGHTS["new_order"]
    assert shoppers_for(1) == 4
    # 400 orders/s is 920 tasks/s: at most 20 tasks/s per shopper
    assert shoppers_for(400) * 20 >= 400 * tasks_per_order()


def test_ratio_of_two_lower_bounds_says_so_above_the_last_line():
    steps = [step(25, pipeline=target(0.3), jdbc=target(0.5), logical=target(0.01))]
    console = Console(width=60, record=True)
    print_compare(console, result(steps))
    lines = console.export_text().rstrip().splitlines()
    assert lines[-1] == "pipeline/peer: 1.00"
    assert "lower bounds" in lines[-2]
