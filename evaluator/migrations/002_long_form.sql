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

DROP VIEW leaderboard;
CREATE VIEW leaderboard AS
SELECT
    run_id,
    model,
    dataset,
    split,
    count(*) AS n,
    count(*) FILTER (WHERE error IS NOT NULL) AS errors,
    count(*) FILTER (WHERE error IS NULL AND ref_words = 0) AS empty_refs,
    sum(substitutions + deletions + insertions) FILTER (WHERE error IS NULL AND ref_words > 0)
        / nullif(sum(substitutions + deletions + hits) FILTER (WHERE error IS NULL AND ref_words > 0), 0)
        AS wer,
    sum(char_errors) FILTER (WHERE error IS NULL AND ref_words > 0)
        / nullif(sum(ref_chars) FILTER (WHERE error IS NULL AND ref_words > 0), 0) AS cer,
    sum(audio_seconds) FILTER (WHERE error IS NULL)
        / nullif(sum(inference_seconds) FILTER (WHERE error IS NULL), 0) AS rtfx,
    sum(audio_seconds) FILTER (WHERE error IS NULL) / 3600.0 AS audio_hours,
    count(*) FILTER (WHERE truncated) AS truncated,
    sum(hyp_words) FILTER (WHERE error IS NULL AND ref_words > 0)
        / nullif(sum(ref_words) FILTER (WHERE error IS NULL AND ref_words > 0), 0) AS completion_ratio,
    max(repetition) FILTER (WHERE error IS NULL) AS max_repetition,
    max(max_insertion_run) FILTER (WHERE error IS NULL) AS max_insertion_run,
    count(*) FILTER (WHERE looping) AS looping
FROM results
GROUP BY run_id, model, dataset, split;

-- Corpus WER per duration bucket: where long-form failures show.
CREATE VIEW buckets AS
SELECT
    run_id,
    model,
    dataset,
    split,
    CASE
        WHEN audio_seconds < 10 THEN '1: <10s'
        WHEN audio_seconds < 30 THEN '2: 10-30s'
        WHEN audio_seconds < 120 THEN '3: 30s-2min'
        WHEN audio_seconds < 600 THEN '4: 2-10min'
        ELSE '5: >10min'
    END AS bucket,
    count(*) AS n,
    sum(substitutions + deletions + insertions) / nullif(sum(substitutions + deletions + hits), 0) AS wer,
    sum(hyp_words) / nullif(sum(ref_words), 0) AS completion_ratio,
    count(*) FILTER (WHERE truncated) AS truncated,
    count(*) FILTER (WHERE looping) AS looping,
    sum(audio_seconds) / nullif(sum(inference_seconds), 0) AS rtfx
FROM results
WHERE error IS NULL AND ref_words > 0
GROUP BY ALL;
