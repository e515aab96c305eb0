-- Upsert orders: the batch's latest change per order, applied only if newer than the stored
-- version. Deletes are soft (is_deleted) and keep the last known values (REPLICA IDENTITY FULL
-- gives them the full old row; a missing field keeps the stored value). customer_sk and
-- customer_as_of come from fact_changes.sql: the customer version valid when the order was
-- placed, whichever arrived first; a version arriving later re-points it (repoint_facts.sql).
-- Inferred members were created beforehand, so customer_sk is never NULL for a known id.
SELECT dw.ensure_dates(array_agg(DISTINCT (ordered_at AT TIME ZONE 'UTC')::date))
FROM stg_orders;

INSERT INTO dw.fact_orders AS f (
    order_id, customer_id, customer_sk, customer_as_of, date_key, status, currency,
    total_amount, ordered_at, updated_at, is_deleted, version, source_committed_at)
SELECT s.order_id, s.customer_id, s.sk, s.as_of, dw.date_key(s.ordered_at), s.status,
       s.currency, s.total_amount, s.ordered_at, s.updated_at, s.deleted, s.version,
       to_timestamp(s.source_ts_ms / 1000.0)
FROM changes_orders s
ORDER BY s.order_id
ON CONFLICT (order_id) DO UPDATE SET
    customer_id  = coalesce(excluded.customer_id, f.customer_id),
    customer_sk  = excluded.customer_sk,
    customer_as_of = excluded.customer_as_of,
    date_key     = coalesce(excluded.date_key, f.date_key),
    status       = coalesce(excluded.status, f.status),
    currency     = coalesce(excluded.currency, f.currency),
    total_amount = coalesce(excluded.total_amount, f.total_amount),
    ordered_at   = coalesce(excluded.ordered_at, f.ordered_at),
    updated_at   = coalesce(excluded.updated_at, f.updated_at),
    is_deleted   = excluded.is_deleted,
    version      = excluded.version,
    source_committed_at = excluded.source_committed_at,
    loaded_at    = now()
WHERE excluded.version > f.version;
