-- The run's scoring profile (evaluator/scoring/profiles.py): whisper | open-asr-leaderboard | exact.
-- `normalizer_name`/`normalizer_version` hold that profile's normalizer set and version; each row's
-- `results.scoring` holds the profile and version it was scored with. Runs made before profiles
-- were scored by `whisper`.
ALTER TABLE runs ADD COLUMN scoring VARCHAR;
UPDATE runs SET scoring = 'whisper' WHERE scoring IS NULL;
