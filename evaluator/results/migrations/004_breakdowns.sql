-- Breakdowns and error bars: stored bootstrap intervals. (results.metadata, the dataset row's
-- other columns, is a field of evaluator/results/records.py.)

-- 95% bootstrap intervals of corpus WER and CER, written at the end of a run (Store.save_intervals).
-- group_by NULL: the whole (model, dataset, split); else language, bucket or a metadata key, with
-- group_value the group. The leaderboard view stays the point estimate.
CREATE TABLE intervals (
    run_id              VARCHAR NOT NULL,
    model               VARCHAR NOT NULL,
    dataset             VARCHAR NOT NULL,
    split               VARCHAR NOT NULL,
    group_by            VARCHAR,
    group_value         VARCHAR,
    metric              VARCHAR NOT NULL,      -- wer | cer
    estimate            DOUBLE,                -- equals the leaderboard view's value (overall rows)
    low                 DOUBLE,
    high                DOUBLE,
    n                   BIGINT NOT NULL,       -- utterances resampled (error-free, non-empty reference)
    resamples           INTEGER NOT NULL,
    seed                BIGINT NOT NULL,
    computed_at         TIMESTAMP NOT NULL
);
