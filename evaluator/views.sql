-- The views over `results`, defined once. The store re-creates them each time the driver
-- opens the database (after the migrations), so they always match this file.

-- Per (run, model, dataset, split): corpus WER = sum(S+D+I) / sum(S+D+H), never a mean of
-- per-utterance WERs. Error rows and empty references are counted, not scored.
CREATE OR REPLACE VIEW leaderboard AS
SELECT
    run_id,
    model,
    dataset,
    split,
    count(*) AS n,
    count(*) FILTER (WHERE error IS NOT NULL) AS errors,
    count(*) FILTER (WHERE error IS NULL AND ref_words = 0) AS empty_refs,
    -- hallucination on silence, music or noise: text where the reference has none
    count(*) FILTER (WHERE error IS NULL AND ref_words = 0 AND hyp_words > 0) AS empty_ref_hallucinations,
    coalesce(sum(hyp_words) FILTER (WHERE error IS NULL AND ref_words = 0), 0) AS empty_ref_hallucinated_words,
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
    count(*) FILTER (WHERE looping) AS looping,
    count(*) FILTER (WHERE skipped) AS skipped,
    max(max_deletion_run) FILTER (WHERE error IS NULL) AS max_deletion_run,
    sum(untranscribed_speech_s) FILTER (WHERE error IS NULL) AS untranscribed_speech_s
FROM results
GROUP BY run_id, model, dataset, split;

-- Corpus WER per duration bucket: where long-form failures show. Scored like the leaderboard
-- (WER over non-empty references; RTFx over every error-free row); a row whose duration is
-- unknown is in its own bucket.
CREATE OR REPLACE VIEW buckets AS
SELECT
    run_id,
    model,
    dataset,
    split,
    CASE
        WHEN audio_seconds IS NULL THEN '0: unknown'
        WHEN audio_seconds < 10 THEN '1: <10s'
        WHEN audio_seconds < 30 THEN '2: 10-30s'
        WHEN audio_seconds < 120 THEN '3: 30s-2min'
        WHEN audio_seconds < 600 THEN '4: 2-10min'
        ELSE '5: >10min'
    END AS bucket,
    count(*) AS n,
    count(*) FILTER (WHERE ref_words = 0) AS empty_refs,
    sum(substitutions + deletions + insertions) FILTER (WHERE ref_words > 0)
        / nullif(sum(substitutions + deletions + hits) FILTER (WHERE ref_words > 0), 0) AS wer,
    sum(hyp_words) FILTER (WHERE ref_words > 0) / nullif(sum(ref_words) FILTER (WHERE ref_words > 0), 0)
        AS completion_ratio,
    count(*) FILTER (WHERE truncated) AS truncated,
    count(*) FILTER (WHERE looping) AS looping,
    count(*) FILTER (WHERE skipped) AS skipped,
    max(max_deletion_run) AS max_deletion_run,
    sum(audio_seconds) / nullif(sum(inference_seconds), 0) AS rtfx
FROM results
WHERE error IS NULL
GROUP BY ALL;

-- Confusion pairs ranked per (run, model): `rank` over all errors, `op_rank` within the
-- operation, `share` of the model's counted errors. Top 10 substitutions of each model:
--   SELECT model, ref_word, hyp_word, count FROM top_confusions
--   WHERE run_id = '...' AND op = 'substitute' AND op_rank <= 10 ORDER BY model, op_rank;
CREATE OR REPLACE VIEW top_confusions AS
SELECT
    run_id,
    model,
    op,
    ref_word,
    hyp_word,
    count,
    count / sum(count) OVER (PARTITION BY run_id, model) AS share,
    row_number() OVER (PARTITION BY run_id, model ORDER BY count DESC, op, ref_word, hyp_word) AS rank,
    row_number() OVER (PARTITION BY run_id, model, op ORDER BY count DESC, ref_word, hyp_word) AS op_rank
FROM word_errors;
