-- `etl dlq replay` (app/dlq.py): which dead letters were sent back through the pipeline, and
-- where to. A dead letter is identified by its own position on the DLQ topic; a second replay
-- skips those recorded here (unless --again). The warehouse stays right either way: the loader
-- applies a change only when its version (source LSN) is newer than the stored one.
CREATE TABLE dw.etl_dlq_replays (
    dlq_topic         text        NOT NULL,
    dlq_partition     integer     NOT NULL,
    dlq_offset        bigint      NOT NULL,
    digest            text        NOT NULL,  -- sha256 of topic, key and value sent
    target_topic      text        NOT NULL,
    target_partition  integer     NOT NULL,
    target_offset     bigint      NOT NULL,
    replayed_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
