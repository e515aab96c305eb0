"""Hypothesis strategies of hostile Kafka records on a table's CDC topic (docs/transform.md,
"Hostile input"). Shared by the property tests (tests/unit/jobs/test_hostile_properties.py) and
the integration test on the real job (tests/integration/test_hostile_input.py).

A record is `(key, value)` bytes (value None: a tombstone). Two families:

- `hostile_record(table)`: every one must become a dead letter: bytes that are not a Debezium
  envelope, and envelopes broken in one way each (op, row, LSN, timestamps, a column's type or
  presence, a business rule, U+0000 or an unpaired surrogate in text, a valid change of
  another table);
- `benign_record(table)`: valid changes with arbitrary Unicode text and extra fields, which must
  become curated records carrying the text exactly; the property tests mix both with tombstones.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from etl.rules import rules_for
from etl.tables import CAPTURED_TABLES, captured_table
from tests.unit.jobs.envelopes import ROWS, envelope, row

Record = tuple[bytes | None, bytes | None]

#: Replaced, quotes included, by raw JSON text after `json.dumps` (NaN, lone surrogates, ...).
_RAW = "__raw_json__"
_DIGITS = re.compile(r"-?[0-9]+")
_OPS = ("c", "u", "d", "r", "t")


def _columns(table: str, *types: str) -> list[str]:
    return [
        c.name
        for c in captured_table(table).columns
        if any(c.sql_type.startswith(t) for t in types)
    ]


def text_columns(table: str) -> list[str]:
    """Columns of type text (character(n) ones are pinned by their rules)."""
    return _columns(table, "text")


def free_text_columns(table: str) -> list[str]:
    """Text columns no business rule constrains: any text PostgreSQL holds is valid there."""
    ruled = {rule.column for rule in rules_for(table)}
    return [c for c in text_columns(table) if c not in ruled]


def _render(value: dict[str, Any], raw: str | None = None) -> bytes:
    """The envelope as JSON bytes; `raw` replaces the `_RAW` marker verbatim."""
    text = json.dumps(value, ensure_ascii=False)
    if raw is not None:
        text = text.replace(json.dumps(_RAW), raw)
    return text.encode("utf-8", "surrogatepass")


def _key(table: str, value: Any) -> bytes:
    return json.dumps({captured_table(table).key: value}).encode()


@st.composite
def _base(draw: st.DrawFn, table: str) -> tuple[dict[str, Any], str]:
    """A valid envelope of `table` (op c/u/r/d) and the name of the row it carries."""
    op = draw(st.sampled_from(("c", "u", "r", "d")))
    lsn = draw(st.integers(0, 2**62))
    data = row(table, **{captured_table(table).key: draw(st.integers(1, 2**31))})
    if op == "d":
        return envelope(table, "d", before=data, lsn=lsn), "before"
    before = data if op == "u" else None
    return envelope(table, op, before=before, after=data, lsn=lsn), "after"


def _not_integer_text() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(max_size=12).filter(lambda s: not _DIGITS.fullmatch(s)),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )


# Raw JSON numbers Java's parser takes that are not integers (or not JSON at all).
_ODD_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e999", "1.0", "-0.5", "2.5e3")


@st.composite
def broken_envelope(draw: st.DrawFn, table: str) -> bytes:
    """A valid envelope of `table` with exactly one thing wrong (it must be a dead letter)."""
    env, side = draw(_base(table))
    state = env[side]
    key = captured_table(table).key
    #: every column of the row is checked (a key-only delete checks just the key)
    full = side == "after" or captured_table(table).full_row_deletes
    kind = draw(
        st.sampled_from(
            [
                "op",
                "row",
                "lsn",
                "ts_ms",
                "source_ts_ms",
                "odd_number",
                "missing",
                "integer",
                "timestamp",
                "nul",
                "surrogate",
                "wrong_table",
                "rule",
            ]
            + (["decimal"] if _columns(table, "numeric") else [])
        )
    )
    raw = None
    if kind == "op":
        env["op"] = draw(
            st.one_of(st.none(), st.integers(), st.text(max_size=4)).filter(
                lambda o: not isinstance(o, str) or o not in _OPS
            )
        )
    elif kind == "row":
        env[side] = draw(
            st.one_of(st.none(), st.text(max_size=8), st.integers(), st.lists(st.integers()))
        )
    elif kind == "lsn":
        env["source"]["lsn"] = draw(
            st.one_of(
                st.none(),
                st.integers(max_value=-1),
                st.integers(min_value=2**63),
                _not_integer_text(),
            )
        )
    elif kind in ("ts_ms", "source_ts_ms"):
        bad = draw(
            st.one_of(
                st.integers(max_value=-1),
                st.integers(min_value=253_402_300_800_000),
                _not_integer_text(),
            )
        )
        (env if kind == "ts_ms" else env["source"])["ts_ms"] = bad
    elif kind == "odd_number":
        field = draw(st.sampled_from(["lsn", "ts_ms"]))
        env["source"][field] = _RAW
        raw = draw(st.sampled_from(_ODD_NUMBERS))
    elif kind == "missing":
        del state[draw(st.sampled_from(sorted(state))) if full else key]
    elif kind == "integer":
        state[key] = draw(st.one_of(st.integers(min_value=2**63), _not_integer_text()))
    elif kind == "timestamp":
        if not full:  # a key-only delete's timestamps are placeholders: break the key instead
            state[key] = draw(_not_integer_text())
        else:
            column = draw(st.sampled_from(_columns(table, "timestamp")))
            state[column] = draw(
                st.one_of(
                    st.sampled_from(
                        [
                            "0000-01-01T00:00:00Z",
                            "9999-12-31T23:59:59.999999-05:00",
                            "10000-01-01T00:00:00Z",
                            "2026-02-30T00:00:00Z",
                            "2026-11-27T07:43:22",  # no zone
                            "2026-11-27 07:43:22Z",
                        ]
                    ),
                    st.text(max_size=25).filter(lambda s: not s[:1].isdigit()),
                )
            )
    elif kind == "decimal":
        state[draw(st.sampled_from(_columns(table, "numeric")))] = draw(
            st.one_of(
                st.integers(15, 40).map(lambda n: "9" * n),  # more digits than numeric(p,s)
                st.integers(3, 30).map(lambda n: "1." + "1" * n),  # more scale: no rounding
                st.sampled_from(["NaN", "Infinity", "1e5", "", " 1", "1,5", "0x10"]),
            )
        )
    elif kind == "nul":
        column = draw(st.sampled_from(text_columns(table) or [key]))
        if column == key or not full:
            state[key] = "1\x00"
        else:
            text = draw(st.text(max_size=10))
            at = draw(st.integers(0, len(text)))
            state[column] = text[:at] + "\x00" + text[at:]
    elif kind == "surrogate":
        column = draw(st.sampled_from(text_columns(table) or [key]))
        state[column] = _RAW
        escapes = draw(
            st.sampled_from([r"\ud800", r"\udfff", r"\udc00\ud800", r"x\ud83d", r"\ude00y"])
        )
        raw = '"' + draw(st.text("ab ", max_size=3)) + escapes + '"'
    elif kind == "wrong_table":
        other = draw(st.sampled_from([t for t in CAPTURED_TABLES if t != table]))
        env = draw(_base(other))[0]
    elif kind == "rule":
        return draw(rule_violation(table))
    return _render(env, raw)


_RULE_BREAKS: dict[str, list[tuple[str, Any]]] = {
    "customers": [("country", "de"), ("country", "DEU"), ("country", "")],
    "products": [("unit_price", "-0.01"), ("currency", "eur"), ("currency", "EU")],
    "orders": [("total_amount", "-1.00"), ("status", "lost"), ("status", "PAID")],
    "order_items": [("quantity", 0), ("quantity", -3), ("unit_price", "-5")],
}


@st.composite
def rule_violation(draw: st.DrawFn, table: str) -> bytes:
    column, value = draw(st.sampled_from(_RULE_BREAKS[table]))
    op = draw(st.sampled_from(("c", "u", "r")))
    return _render(envelope(table, op, after=row(table, **{column: value})))


def garbage_value() -> st.SearchStrategy[bytes]:
    """Bytes that are no Debezium envelope at all."""
    json_leaf = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
    )
    non_object = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=3), max_leaves=8)
    return st.one_of(
        st.binary(max_size=64),
        st.binary(max_size=32).map(lambda b: b + b"\xff\xfe" + b),  # never valid UTF-8
        non_object.map(lambda v: json.dumps(v).encode()),
        st.integers(100, 3000).map(lambda n: b"[" * n + b"]" * n),  # deeper than Jackson allows
        st.integers(100, 1200).map(lambda n: b'{"op":' * n + b"1" + b"}" * n),
        st.integers(1001, 3000).map(lambda n: b'{"ts_ms": ' + b"7" * n + b"}"),  # long number
        st.sampled_from([b"", b"{", b"null", b'"x"', b"{'op': 'c'}", b"\xef\xbb\xbf{}"]),
    )


@st.composite
def truncated_envelope(draw: st.DrawFn, table: str) -> bytes:
    """A valid envelope cut short (never valid JSON)."""
    whole = _render(draw(_base(table))[0])
    return whole[: draw(st.integers(0, len(whole) - 1))]


def hostile_value(table: str) -> st.SearchStrategy[bytes]:
    return _weighted(
        (2, garbage_value()), (1, truncated_envelope(table)), (7, broken_envelope(table))
    )


def kafka_key(table: str) -> st.SearchStrategy[bytes | None]:
    return st.one_of(
        st.none(),
        st.integers(-(2**70), 2**70).map(lambda k: _key(table, k)),
        st.binary(max_size=16),
    )


def hostile_record(table: str) -> st.SearchStrategy[Record]:
    """A record that must become a dead letter."""
    return st.tuples(kafka_key(table), hostile_value(table))


#: Text PostgreSQL holds: any Unicode scalar but U+0000 (surrogates are not scalars).
pg_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)


@st.composite
def benign_record(draw: st.DrawFn, table: str) -> tuple[Record, dict[str, Any]]:
    """A valid change with arbitrary text and extra fields, and the row it carries."""
    env, side = draw(_base(table))
    if side == "after":
        for column in free_text_columns(table):
            env["after"][column] = draw(pg_text)
        env["after"][draw(st.sampled_from(["extra", "ünïcödé", ""]))] = draw(pg_text)
    env[draw(st.sampled_from(["extra_top", "transaction"]))] = {"id": draw(pg_text)}
    key = _key(table, env[side][captured_table(table).key])
    return (key, _render(env)), env[side]


def mixed_records(table: str) -> st.SearchStrategy[list[tuple[Record, dict[str, Any] | None]]]:
    """Records of one topic: hostile (expected row None), benign (its row) and tombstones."""
    hostile = hostile_record(table).map(lambda r: (r, None))
    tombstone = kafka_key(table).map(lambda k: ((k, None), None))
    return st.lists(
        _weighted((6, hostile), (3, benign_record(table)), (1, tombstone)), min_size=1, max_size=20
    )


def _weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of `choices`, each drawn with its weight (`one_of` flattens nested alternatives and
    weighs them alike, so a strategy with many would crowd out the others)."""
    picks = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(picks) - 1).flatmap(lambda i: picks[i])


def hostile_corpus(per_table: int) -> dict[str, list[Record]]:
    """`per_table` hostile records per table, the same on every run (derandomized draws)."""
    corpus: dict[str, list[Record]] = {t: [] for t in CAPTURED_TABLES}

    @settings(
        max_examples=per_table,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(*(hostile_record(t) for t in CAPTURED_TABLES)))
    def draw(records: tuple[Record, ...]) -> None:
        for table, record in zip(CAPTURED_TABLES, records, strict=True):
            corpus[table].append(record)

    draw()
    return corpus


assert set(_RULE_BREAKS) == set(ROWS) == set(CAPTURED_TABLES)
