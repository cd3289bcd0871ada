-- Error analysis: sclite-style confusion pairs per (run, model), counted over the aligned
-- words of every error-free row's normalized text (evaluator/scoring/alignment.py). Written at the end
-- of a run by Store.write_word_errors (which replaces the run's rows); `evaluator errors`
-- computes them on the fly for runs without rows here. The view `top_confusions`
-- (evaluator/results/views.sql) ranks them per model.
CREATE TABLE word_errors (
    run_id              VARCHAR NOT NULL,
    model               VARCHAR NOT NULL,
    op                  VARCHAR NOT NULL,      -- substitute | delete | insert
    ref_word            VARCHAR,               -- NULL for an insertion
    hyp_word            VARCHAR,               -- NULL for a deletion
    count               BIGINT NOT NULL
);
