-- Long-form you can trust: skipped stretches, truncation reasons, how each seam was merged.
ALTER TABLE results ADD COLUMN truncated_reason VARCHAR;         -- why `truncated` is set: token cap, audio_start,
                                                                 -- completion < 0.5, ends early (joined by "; ")
ALTER TABLE results ADD COLUMN max_deletion_run INTEGER;         -- longest run of consecutive reference words missing
ALTER TABLE results ADD COLUMN max_deletion_run_s DOUBLE;        -- seconds that run spans (its speech, where VAD ran;
                                                                 -- needs timestamps)
ALTER TABLE results ADD COLUMN untranscribed_speech_s DOUBLE;    -- long files: VAD speech in 2 s+ gaps of the transcript
ALTER TABLE results ADD COLUMN skipped BOOLEAN;                  -- 20+ words in a row missing, or a 10 s+ hole

ALTER TABLE chunks ADD COLUMN seam VARCHAR;                      -- how this window joined the text before it:
                                                                 -- aligned | midpoint | adjacent (NULL: first window)
ALTER TABLE chunks ADD COLUMN seam_matched INTEGER;              -- words the two windows agreed on inside the overlap
ALTER TABLE chunks ADD COLUMN seam_cut_s DOUBLE;                 -- where the text switches to this window (s in file)

-- Views are defined once, in evaluator/views.sql, re-created whenever the writer opens the file.
