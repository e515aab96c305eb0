"""`python -m quality [--suite NAME ...] [--trigger gate] [--no-docs]`: one run, its JSON on
stdout, exit 1 when a critical expectation failed. The loader's gate starts it by module name
(the loader must not import GX or this package); people use `etl quality`."""

from __future__ import annotations

import argparse
import sys

from etl.errors import EtlError
from etl.settings import load_settings
from quality.runner import run_quality
from quality.suites import SUITE_NAMES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quality")
    parser.add_argument("--suite", action="append", choices=SUITE_NAMES)
    parser.add_argument("--trigger", default="cli", choices=["cli", "gate", "demo"])
    parser.add_argument("--no-docs", action="store_true", help="skip building Data Docs")
    args = parser.parse_args(argv)
    try:
        run = run_quality(
            load_settings(), args.suite, trigger=args.trigger, build_docs=not args.no_docs
        )
    except EtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(run.model_dump_json())
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
