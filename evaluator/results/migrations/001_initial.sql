-- Runs: one row per `evaluator run` (resumes reuse the row).
CREATE TABLE runs (
    run_id              VARCHAR PRIMARY KEY,
    name                VARCHAR,
    status              VARCHAR NOT NULL,      -- running | finished | failed | interrupted
    started_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP,
    config              JSON NOT NULL,         -- the RunConfig, effective decoding options included
    evaluator_version   VARCHAR NOT NULL,
    library_versions    JSON,                  -- per backend: {distribution: version}
    normalizer_name     VARCHAR NOT NULL,
    normalizer_version  VARCHAR NOT NULL,
    host                JSON,                  -- driver host, python, ray, cluster resources
    models              JSON,                  -- per model: device, workers, load time, warnings
    summary             JSON                   -- counts at the end: rows, errors, lost samples
);

-- The results table (and chunks, run_models, lost_shards) is created from the typed records in
-- evaluator/results/records.py by the store, which also adds columns an older database lacks.

-- The views over `results` (leaderboard, buckets) are defined in evaluator/results/views.sql.
