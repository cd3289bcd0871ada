-- Long-form audio: per-row strategy and signals, per-chunk transcripts, duration buckets.
ALTER TABLE results ADD COLUMN long_form VARCHAR;          -- native | chunked | vad | none
ALTER TABLE results ADD COLUMN num_chunks INTEGER;         -- windows the file was cut into (1: whole file)
ALTER TABLE results ADD COLUMN completion_ratio DOUBLE;    -- hypothesis words / reference words
ALTER TABLE results ADD COLUMN repetition DOUBLE;          -- share of repeated word 5-grams in the hypothesis
ALTER TABLE results ADD COLUMN max_insertion_run INTEGER;  -- longest run of inserted words in the alignment
ALTER TABLE results ADD COLUMN max_repeats INTEGER;        -- most back-to-back repeats of a stretch of <= 40 words
                                                           -- (repetitions covering 10+ words only)
ALTER TABLE results ADD COLUMN looping BOOLEAN;            -- max_repeats >= the reference's + 3, or completion
                                                           -- > 1.5 (10+ word reference), or 50+ inserted words in a row
ALTER TABLE results ADD COLUMN token_cap_hit BOOLEAN;      -- the model stopped at its token cap
ALTER TABLE results ADD COLUMN transcribed_until_s DOUBLE; -- end of the last window/segment with text
-- `truncated` (from 001) is now: token cap hit, or completion ratio < 0.5 on a reference of
-- 10+ words, or the text ends more than max(30 s, 10%) before the audio does.

CREATE TABLE chunks (
    run_id              VARCHAR NOT NULL,
    model               VARCHAR NOT NULL,
    sample_id           VARCHAR NOT NULL,
    chunk_index         INTEGER NOT NULL,
    start_s             DOUBLE NOT NULL,
    end_s               DOUBLE NOT NULL,
    hypothesis          VARCHAR,
    inference_seconds   DOUBLE,
    worker              VARCHAR,               -- the actor that transcribed this window
    error               VARCHAR,
    PRIMARY KEY (run_id, model, sample_id, chunk_index)
);

-- The views (leaderboard, buckets) are defined in evaluator/views.sql.
