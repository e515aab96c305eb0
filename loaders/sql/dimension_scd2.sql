-- SCD type 2 upsert of one dimension ({dim}) from its staging table ({stg}).
-- Newer-version-wins: only changes above the member's current version count. Within a batch
-- every newer change becomes its own version row (valid_to = next change's commit time), so
-- history is kept even when several changes arrive together. An inferred member's placeholder
-- row is overwritten in place by the member's first real change (the facts that already point
-- at its surrogate key then see real attributes); other current rows are closed, not changed.

CREATE TEMP TABLE {fresh} ON COMMIT DROP AS
SELECT s.*,
       to_timestamp(s.source_ts_ms / 1000.0)                          AS valid_from,
       d.is_inferred                                                  AS was_inferred,
       row_number() OVER w                                            AS rn,
       count(*) OVER (PARTITION BY s.{key})                           AS n,
       lead(to_timestamp(s.source_ts_ms / 1000.0)) OVER w             AS next_from
FROM (SELECT DISTINCT ON ({key}, version) * FROM {stg} WHERE NOT deleted
      ORDER BY {key}, version) s
LEFT JOIN {dim} d ON d.{key} = s.{key} AND d.is_current
WHERE s.version > coalesce(d.version, -1)
WINDOW w AS (PARTITION BY s.{key} ORDER BY s.version);

-- inferred placeholder -> the member's first real version, same surrogate key
UPDATE {dim} d
SET ({cols}) = ({f_cols}),
    version = f.version, version_from = f.version, source_committed_at = f.valid_from,
    loaded_at = now(), is_inferred = false, is_deleted = false, is_current = f.rn = f.n,
    valid_to = CASE WHEN f.rn = f.n THEN 'infinity' ELSE f.next_from END
FROM {fresh} f
WHERE f.rn = 1 AND f.was_inferred AND d.{key} = f.{key} AND d.is_current;

-- close the current version of members that get a new one
UPDATE {dim} d
SET valid_to = f.valid_from, is_current = false
FROM {fresh} f
WHERE f.rn = 1 AND NOT f.was_inferred AND d.{key} = f.{key} AND d.is_current;

INSERT INTO {dim} ({key}, {cols}, valid_from, valid_to, is_current, version, version_from,
                   source_committed_at)
SELECT f.{key}, {f_cols}, f.valid_from,
       CASE WHEN f.rn = f.n THEN 'infinity' ELSE f.next_from END, f.rn = f.n,
       f.version, f.version, f.valid_from
FROM {fresh} f
WHERE NOT (f.rn = 1 AND coalesce(f.was_inferred, false))
ORDER BY f.{key}, f.version;

-- deletes: soft, on the current version (a member never seen gets a deleted row so that a
-- late replay of an older change is still recognised as stale)
CREATE TEMP TABLE {fresh_deletes} ON COMMIT DROP AS
SELECT DISTINCT ON ({key}) {key}, version, to_timestamp(source_ts_ms / 1000.0) AS deleted_at
FROM {stg} WHERE deleted
ORDER BY {key}, version DESC;

UPDATE {dim} d
SET is_deleted = true, version = x.version, source_committed_at = x.deleted_at, loaded_at = now()
FROM {fresh_deletes} x
WHERE d.{key} = x.{key} AND d.is_current AND x.version > d.version;

INSERT INTO {dim} ({key}, valid_from, is_deleted, version, version_from, source_committed_at)
SELECT x.{key}, x.deleted_at, true, x.version, x.version, x.deleted_at
FROM {fresh_deletes} x
WHERE NOT EXISTS (SELECT 1 FROM {dim} d WHERE d.{key} = x.{key} AND d.is_current);
