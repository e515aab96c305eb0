"""Streaming transform: Debezium CDC topics -> validated, curated change records.

Pipeline (each step a pure DataFrame -> DataFrame function, testable without Kafka):
`parse.parse_envelope` -> `validate.with_violations` -> `route.route_table` (renders with
`normalize`). `job` runs it as a Structured Streaming query; `progress` reports on it.
Run with `python -m jobs.transform`; see docs/transform.md.
"""
