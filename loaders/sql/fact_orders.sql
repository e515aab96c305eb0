-- Upsert orders: the batch's latest change per order, applied only if newer than the stored
-- version. Deletes are soft (is_deleted) and keep the last known values (REPLICA IDENTITY FULL
-- gives them the full old row; a missing field keeps the stored value). customer_sk is resolved
-- when the order first arrives (or if its customer_id changes) to the customer version valid at
-- the LSN of that change (customer_as_of: its first change in the batch with that customer), not
-- the one current on arrival: the topics may deliver the order before or after the customer's
-- change around it. A version that arrives later re-points it (repoint_facts.sql). Inferred
-- members were created beforehand, so customer_sk is never NULL for a known id.
SELECT dw.ensure_dates(array_agg(DISTINCT (ordered_at AT TIME ZONE 'UTC')::date))
FROM stg_orders;

INSERT INTO dw.fact_orders AS f (
    order_id, customer_id, customer_sk, customer_as_of, date_key, status, currency,
    total_amount, ordered_at, updated_at, is_deleted, version, source_committed_at)
SELECT s.order_id, s.customer_id,
       CASE WHEN m.version_from <= s.as_of THEN m.customer_sk  -- the current row, usually
            ELSE dw.customer_sk_at(s.customer_id, s.as_of) END,
       s.as_of, dw.date_key(s.ordered_at), s.status, s.currency, s.total_amount, s.ordered_at,
       s.updated_at, s.deleted, s.version, to_timestamp(s.source_ts_ms / 1000.0)
FROM (SELECT DISTINCT ON (order_id) *,
             min(version) OVER (PARTITION BY order_id, customer_id) AS as_of
      FROM stg_orders ORDER BY order_id, version DESC) s
LEFT JOIN dw.dim_customer m ON m.customer_id = s.customer_id AND m.is_current
ORDER BY s.order_id
ON CONFLICT (order_id) DO UPDATE SET
    customer_id  = coalesce(excluded.customer_id, f.customer_id),
    (customer_sk, customer_as_of) = (
        SELECT CASE WHEN kept THEN f.customer_sk ELSE excluded.customer_sk END,
               CASE WHEN kept THEN f.customer_as_of ELSE excluded.customer_as_of END
        FROM dw.keeps_member(f.customer_id, f.customer_sk, f.is_deleted,
                             excluded.customer_id, excluded.is_deleted) kept),
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
