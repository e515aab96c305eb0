-- The source's corner cases (docs/corner-cases.md): TRUNCATE, and changes the warehouse refuses.

-- Every TRUNCATE of a captured table the loader applied, by the source LSN of the truncate
-- (`version`). All rows of the table older than it were soft-deleted when it was applied; a
-- change of that table older than it which arrives later (another partition, a replay) is applied
-- as a delete: the truncate removed that row from the source.
CREATE TABLE dw.etl_truncations (
    entity               text        NOT NULL,
    version              bigint      NOT NULL,
    source_committed_at  timestamptz NOT NULL,
    batch_id             bigint      NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, version)
);

-- Curated records the loader sent to the dead-letter topic instead of loading them (a value the
-- warehouse cannot hold, a constraint it violates, a record it cannot parse), written in the
-- same transaction that moves the offsets past them: exactly one row per dead-lettered record.
CREATE TABLE dw.etl_dead_letters (
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    "offset"       bigint      NOT NULL,
    entity         text,
    record_key     text,
    version        bigint,
    rule           text        NOT NULL,
    reason         text        NOT NULL,
    batch_id       bigint      NOT NULL,
    loader_id      text        NOT NULL,
    failed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX etl_dead_letters_failed_at_idx ON dw.etl_dead_letters (failed_at DESC);

ALTER TABLE dw.etl_load_audit
    ADD COLUMN dead_lettered integer NOT NULL DEFAULT 0,  -- records sent to the DLQ (rejected too)
    ADD COLUMN truncations   integer NOT NULL DEFAULT 0;  -- TRUNCATE records applied
