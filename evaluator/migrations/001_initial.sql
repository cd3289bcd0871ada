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

-- Results: one row per (run, model, sample). Raw text is stored; normalized text and counts
-- come from metrics.score() at scoring time. A failed sample has `error` set and NULL counts.
CREATE TABLE results (
    run_id              VARCHAR NOT NULL,
    model               VARCHAR NOT NULL,      -- the model spec, e.g. faster-whisper:tiny.en
    backend             VARCHAR NOT NULL,
    dataset             VARCHAR NOT NULL,
    split               VARCHAR NOT NULL,
    sample_id           VARCHAR NOT NULL,
    sample_index        BIGINT,                -- row position (NULL when streaming)
    language            VARCHAR,
    audio_seconds       DOUBLE,
    reference           VARCHAR,
    hypothesis          VARCHAR,
    reference_norm      VARCHAR,
    hypothesis_norm     VARCHAR,
    hits                INTEGER,
    substitutions       INTEGER,
    deletions           INTEGER,
    insertions          INTEGER,
    ref_words           INTEGER,
    hyp_words           INTEGER,
    ref_chars           INTEGER,
    char_errors         INTEGER,
    decode_seconds      DOUBLE,
    inference_seconds   DOUBLE,
    truncated           BOOLEAN,
    device              VARCHAR,
    worker              VARCHAR,
    error               VARCHAR,
    created_at          TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, model, sample_id)
);

-- The views over `results` (leaderboard, buckets) are defined in evaluator/views.sql.
