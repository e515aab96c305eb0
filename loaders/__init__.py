"""Warehouse loader: curated change records from Kafka -> the `dw` star schema in PostgreSQL.

Modules: `service` (the consumer loop, `python -m loaders`), `apply` (one batch, one
transaction), `offsets` (positions stored in the warehouse), `batch` (parsing), `schema`
(migrations), `reconcile` (source vs warehouse), `report` (what is in the warehouse).
"""
