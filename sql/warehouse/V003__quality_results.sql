-- Results of the warehouse quality suites (quality/: `etl quality`, the loader's gate, the demo):
-- one row per suite per run. `etl status` and the dashboard flag the newest run when it failed.
CREATE TABLE dw.quality_results (
    run_id               text        NOT NULL,
    suite                text        NOT NULL,
    trigger              text        NOT NULL,  -- cli | gate | demo
    started_at           timestamptz NOT NULL,
    finished_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    expectations         integer     NOT NULL,
    failed               integer     NOT NULL,
    critical_failed      integer     NOT NULL,
    success              boolean     NOT NULL,
    failed_expectations  jsonb       NOT NULL DEFAULT '[]',
    error                text,
    PRIMARY KEY (run_id, suite)
);
CREATE INDEX quality_results_started_idx ON dw.quality_results (started_at DESC);
