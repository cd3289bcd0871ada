-- The views over `results`, defined once. The store re-creates them each time the driver
-- opens the database (after the migrations), so they always match this file.

-- The language a stored value belongs to, without its script ('zh-Hant' -> 'zh'): what
-- per-language tables group by (evaluator.scoring.languages.language_group).
CREATE OR REPLACE MACRO language_group(language) AS split_part(language, '-', 1);

-- A language's primary metric: 'cer' for languages written without spaces (the codes of
-- evaluator.scoring.languages.SPACELESS; their rows have NULL word counts, so no WER), else 'wer'
-- (also for rows with no language: scored as English).
CREATE OR REPLACE MACRO language_metric(language) AS
    CASE WHEN language_group(language) IN ('zh', 'yue', 'ja', 'th', 'lo', 'km', 'my') THEN 'cer' ELSE 'wer' END;

-- A row of a sample in a language its model does not transcribe (English-only tiny.en on a
-- Spanish clip): stored with the model's LanguageError, it is "not transcribable", neither
-- scored nor counted among `errors` (NOT_TRANSCRIBABLE_SQL of evaluator/results/leaderboard.py).
CREATE OR REPLACE MACRO not_transcribable(error) AS coalesce(error LIKE 'LanguageError:% does not transcribe %', false);

-- Per (run, model, dataset, split, language group): the per-language breakdown of the
-- leaderboard, one row per language (Chinese in either script is one row, `zh`); `forms` lists
-- the stored values it covers (zh, zh-Hant). `metric` is the language's primary metric
-- (`language_metric`). `normalizer` names the normalizers its rows were scored with.
-- `lid_mismatches`: rows where the language the model detected (given none) disagrees with the
-- dataset's language group, out of `lid_rows` rows with both.
CREATE OR REPLACE VIEW leaderboard_languages AS
SELECT
    run_id,
    model,
    dataset,
    split,
    language_group(language) AS language,
    string_agg(DISTINCT language, ', ' ORDER BY language) AS forms,
    count(*) AS n,
    count(*) FILTER (WHERE error IS NULL) AS scored,
    count(*) FILTER (WHERE error IS NOT NULL AND NOT not_transcribable(error)) AS errors,
    count(*) FILTER (WHERE not_transcribable(error)) AS not_transcribable,
    language_metric(language_group(language)) AS metric,
    string_agg(DISTINCT split_part(normalizer, ' ', 1), ', ') AS normalizer,
    sum(substitutions + deletions + insertions) FILTER (WHERE error IS NULL AND ref_words > 0)
        / nullif(sum(substitutions + deletions + hits) FILTER (WHERE error IS NULL AND ref_words > 0), 0) AS wer,
    sum(char_errors) FILTER (WHERE error IS NULL AND ref_chars > 0)
        / nullif(sum(ref_chars) FILTER (WHERE error IS NULL AND ref_chars > 0), 0) AS cer,
    count(*) FILTER (WHERE detected_language IS NOT NULL AND language IS NOT NULL) AS lid_rows,
    count(*) FILTER (WHERE detected_language IS NOT NULL AND language IS NOT NULL
                     AND language_group(detected_language) <> language_group(language)) AS lid_mismatches,
    sum(audio_seconds) FILTER (WHERE error IS NULL)
        / nullif(sum(inference_seconds) FILTER (WHERE error IS NULL), 0) AS rtfx
FROM results
GROUP BY run_id, model, dataset, split, language_group(language);

-- Per (run, model, dataset, split): corpus WER = sum(S+D+I) / sum(S+D+H), never a mean of
-- per-utterance WERs. Error rows and empty references are counted, not scored.
-- Accounting (from run_models, lost_shards): `planned` samples, `n` rows stored, `scored` rows
-- (error-free), `errors` failed rows, `not_transcribable` rows in a language the model does not
-- transcribe (not errors), `missing` planned samples with no row; `partial` when the WER covers
-- fewer samples than planned (missing rows, error or not-transcribable rows, lost shards): never
-- ranked as complete (evaluator/results/ranking.py ranks models on the samples they all scored).
-- `rtfx` is model-only (audio seconds / inference seconds, per actor); `rtfx_e2e` is end to end
-- (audio seconds / wall seconds from the first actor start to the last row, all actors), over the
-- model's whole run: in a suite, every dataset's row shows the model's figure over all of them
-- (the datasets share the model's actors, so there is no wall time per dataset).
-- Languages: `wer` is pooled over the rows scored by words (languages written without spaces
-- have no WER), `cer` over every row; `macro_wer`/`macro_cer` are the plain means of the
-- per-language figures of `leaderboard_languages` (the FLEURS convention) over the `languages`
-- with scored rows; `lid_mismatches`
-- counts rows whose detected language disagrees with the dataset's.
CREATE OR REPLACE VIEW leaderboard AS
WITH per_model AS (
    SELECT
        run_id,
        model,
        dataset,
        split,
        count(*) AS n,
        count(*) FILTER (WHERE error IS NULL) AS scored,
        count(*) FILTER (WHERE error IS NOT NULL AND NOT not_transcribable(error)) AS errors,
        count(*) FILTER (WHERE not_transcribable(error)) AS not_transcribable,
        count(*) FILTER (WHERE error IS NULL AND ref_chars = 0) AS empty_refs,
        -- hallucination on silence, music or noise: text where the reference has none
        count(*) FILTER (WHERE error IS NULL AND ref_chars = 0 AND hypothesis_norm <> '') AS empty_ref_hallucinations,
        coalesce(sum(hyp_words) FILTER (WHERE error IS NULL AND ref_chars = 0), 0) AS empty_ref_hallucinated_words,
        sum(substitutions + deletions + insertions) FILTER (WHERE error IS NULL AND ref_words > 0)
            / nullif(sum(substitutions + deletions + hits) FILTER (WHERE error IS NULL AND ref_words > 0), 0)
            AS wer,
        sum(char_errors) FILTER (WHERE error IS NULL AND ref_chars > 0)
            / nullif(sum(ref_chars) FILTER (WHERE error IS NULL AND ref_chars > 0), 0) AS cer,
        sum(audio_seconds) FILTER (WHERE error IS NULL)
            / nullif(sum(inference_seconds) FILTER (WHERE error IS NULL), 0) AS rtfx,
        sum(audio_seconds) FILTER (WHERE error IS NULL) AS scored_audio_seconds,
        sum(audio_seconds) FILTER (WHERE error IS NULL) / 3600.0 AS audio_hours,
        count(*) FILTER (WHERE truncated) AS truncated,
        sum(hyp_words) FILTER (WHERE error IS NULL AND ref_words > 0)
            / nullif(sum(ref_words) FILTER (WHERE error IS NULL AND ref_words > 0), 0) AS completion_ratio,
        max(repetition) FILTER (WHERE error IS NULL) AS max_repetition,
        max(max_insertion_run) FILTER (WHERE error IS NULL) AS max_insertion_run,
        count(*) FILTER (WHERE looping) AS looping,
        count(*) FILTER (WHERE skipped) AS skipped,
        max(max_deletion_run) FILTER (WHERE error IS NULL) AS max_deletion_run,
        sum(untranscribed_speech_s) FILTER (WHERE error IS NULL) AS untranscribed_speech_s,
        count(*) FILTER (WHERE warning IS NOT NULL) AS warnings
    FROM results
    GROUP BY run_id, model, dataset, split
),
lost AS (
    SELECT run_id, model, dataset, count(*) AS lost_shards FROM lost_shards GROUP BY run_id, model, dataset
),
languages AS (
    SELECT run_id, model, dataset, split, count(*) FILTER (WHERE scored > 0) AS languages,
           avg(wer) AS macro_wer, avg(cer) AS macro_cer,
           sum(lid_mismatches) AS lid_mismatches
    FROM leaderboard_languages
    GROUP BY run_id, model, dataset, split
)
SELECT
    coalesce(p.run_id, m.run_id) AS run_id,
    coalesce(p.model, m.model) AS model,
    coalesce(p.dataset, m.dataset) AS dataset,
    coalesce(p.split, m.split) AS split,
    m.planned,
    coalesce(p.n, 0) AS n,
    coalesce(p.scored, 0) AS scored,
    coalesce(p.errors, 0) AS errors,
    coalesce(p.not_transcribable, 0) AS not_transcribable,
    m.planned - coalesce(p.n, 0) AS missing,
    coalesce(l.lost_shards, 0) AS lost_shards,
    (coalesce(m.planned - coalesce(p.n, 0), 0) > 0 OR coalesce(p.errors, 0) > 0
        OR coalesce(p.not_transcribable, 0) > 0 OR coalesce(l.lost_shards, 0) > 0 OR coalesce(p.n, 0) = 0) AS partial,
    m.status AS model_status,
    p.empty_refs,
    p.empty_ref_hallucinations,
    p.empty_ref_hallucinated_words,
    p.wer,
    p.cer,
    p.rtfx,
    sum(p.scored_audio_seconds) OVER (PARTITION BY coalesce(p.run_id, m.run_id), coalesce(p.model, m.model))
        / nullif(m.wall_seconds, 0) AS rtfx_e2e,
    p.audio_hours,
    p.truncated,
    p.completion_ratio,
    p.max_repetition,
    p.max_insertion_run,
    p.looping,
    p.skipped,
    p.max_deletion_run,
    p.untranscribed_speech_s,
    coalesce(p.warnings, 0) AS warnings,
    g.languages,
    g.macro_wer,
    g.macro_cer,
    g.lid_mismatches
FROM per_model p
FULL OUTER JOIN run_models m ON p.run_id = m.run_id AND p.model = m.model AND p.dataset = m.dataset
LEFT JOIN lost l ON l.run_id = coalesce(p.run_id, m.run_id) AND l.model = coalesce(p.model, m.model)
    AND l.dataset = coalesce(p.dataset, m.dataset)
LEFT JOIN languages g ON g.run_id = p.run_id AND g.model = p.model AND g.dataset = p.dataset
    AND g.split = p.split;

-- The duration bucket of a row (used by `buckets`, `leaderboard --by bucket` and the report).
CREATE OR REPLACE MACRO duration_bucket(seconds) AS CASE
    WHEN seconds IS NULL THEN '0: unknown'
    WHEN seconds < 10 THEN '1: <10s'
    WHEN seconds < 30 THEN '2: 10-30s'
    WHEN seconds < 120 THEN '3: 30s-2min'
    WHEN seconds < 600 THEN '4: 2-10min'
    ELSE '5: >10min'
END;

-- Corpus WER and CER per duration bucket: where long-form failures show. Scored like the
-- leaderboard: `empty_refs` counts references empty after normalization (no characters, so rows
-- scored by characters count too), WER over rows scored by words with a non-empty reference, CER
-- over every row with a non-empty reference, RTFx over every error-free row; a row whose duration
-- is unknown is in its own bucket.
CREATE OR REPLACE VIEW buckets AS
SELECT
    run_id,
    model,
    dataset,
    split,
    duration_bucket(audio_seconds) AS bucket,
    count(*) AS n,
    count(*) FILTER (WHERE ref_chars = 0) AS empty_refs,
    sum(substitutions + deletions + insertions) FILTER (WHERE ref_words > 0)
        / nullif(sum(substitutions + deletions + hits) FILTER (WHERE ref_words > 0), 0) AS wer,
    sum(char_errors) FILTER (WHERE ref_chars > 0) / nullif(sum(ref_chars) FILTER (WHERE ref_chars > 0), 0) AS cer,
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

-- Per (run, model) over all of a run's datasets (a suite; evaluator/results/suite.py adds the
-- intervals): `average` is the unweighted mean of the per-dataset figures, as the Open ASR
-- Leaderboard ranks models (each dataset's corpus WER, or its CER when its languages are written
-- without spaces: `metric` says which, `mixed` when both), NULL unless the model has a figure on
-- every dataset of the run; `pooled_wer` is one corpus WER over the word-scored rows of all
-- datasets; `rtfx` is over every error-free row of the suite, `rtfx_e2e` the model's end to end;
-- `per_dataset` lists each dataset's figure; `partial` when any dataset is.
CREATE OR REPLACE VIEW suite_leaderboard AS
WITH figures AS (
    SELECT run_id, model, dataset, split, partial, scored, errors, rtfx_e2e,
           CASE WHEN wer IS NULL AND cer IS NOT NULL THEN 'cer' ELSE 'wer' END AS metric,
           coalesce(wer, cer) AS value
    FROM leaderboard
),
run_datasets AS (
    SELECT run_id, count(DISTINCT dataset) AS datasets FROM run_models GROUP BY run_id
),
pooled AS (
    SELECT run_id, model,
           sum(substitutions + deletions + insertions) FILTER (WHERE error IS NULL AND ref_words > 0)
               / nullif(sum(substitutions + deletions + hits) FILTER (WHERE error IS NULL AND ref_words > 0), 0)
               AS pooled_wer,
           sum(audio_seconds) FILTER (WHERE error IS NULL)
               / nullif(sum(inference_seconds) FILTER (WHERE error IS NULL), 0) AS rtfx,
           sum(audio_seconds) FILTER (WHERE error IS NULL) / 3600.0 AS audio_hours
    FROM results
    GROUP BY run_id, model
)
SELECT
    f.run_id,
    f.model,
    count(*) AS datasets,
    CASE WHEN count(DISTINCT f.metric) = 1 THEN any_value(f.metric) ELSE 'mixed' END AS metric,
    CASE WHEN count(f.value) = coalesce(any_value(d.datasets), count(*)) THEN avg(f.value) END AS average,
    any_value(p.pooled_wer) AS pooled_wer,
    any_value(p.rtfx) AS rtfx,
    any_value(f.rtfx_e2e) AS rtfx_e2e,
    any_value(p.audio_hours) AS audio_hours,
    sum(f.scored) AS scored,
    sum(f.errors) AS errors,
    bool_or(f.partial) OR count(*) < coalesce(any_value(d.datasets), count(*)) AS partial,
    list({'dataset': f.dataset, 'split': f.split, 'metric': f.metric, 'value': f.value} ORDER BY f.dataset)
        AS per_dataset
FROM figures f
LEFT JOIN run_datasets d ON d.run_id = f.run_id
LEFT JOIN pooled p ON p.run_id = f.run_id AND p.model = f.model
GROUP BY f.run_id, f.model;

-- Every run's datasets with their identity (evaluator/results/migrations/008_datasets.sql): the
-- name rows carry (`dataset`), `name_key` (the same without a directory: a run recorded before
-- names stopped being absolute paths pairs with a later one by it), the content `fingerprint`
-- (NULL for a stream or a run recorded before fingerprints), how sample ids were made (`ids`),
-- the source's kind and hub revision. Two runs read the same data when their fingerprints are
-- equal; they read the same samples, possibly edited, when their name_keys are equal.
CREATE OR REPLACE VIEW dataset_identity AS
WITH seen AS (
    SELECT run_id, dataset, any_value(split) AS split, count(DISTINCT sample_id) AS stored FROM results
    GROUP BY run_id, dataset
    UNION ALL
    SELECT run_id, dataset, split, 0 FROM run_models
    UNION ALL
    SELECT run_id, dataset, split, 0 FROM dataset_fingerprints
),
each AS (
    SELECT run_id, dataset, any_value(split) AS split, max(stored) AS stored FROM seen GROUP BY run_id, dataset
)
SELECT
    e.run_id,
    e.dataset,
    CASE WHEN e.dataset LIKE '/%' THEN regexp_extract(rtrim(e.dataset, '/'), '[^/]+$') ELSE e.dataset END
        AS name_key,
    f.fingerprint,
    f.kind,
    f.source,
    f.config,
    coalesce(f.split, e.split) AS split,
    coalesce(f.ids, 'recorded before sample ids came from the source: an id column, else the row index') AS ids,
    f.samples,
    e.stored AS stored_samples,
    f.audio,
    f.revision
FROM each e
LEFT JOIN dataset_fingerprints f ON f.run_id = e.run_id AND f.dataset = e.dataset;
