-- What each run read, per dataset: its identity beside its name. `results.dataset` is the name
-- (NAME=SOURCE, a suite entry's name, else the last part of the path: never an absolute path);
-- `fingerprint` is the content hash of its samples' ids, references and audio sizes
-- (evaluator/data/fingerprint.py), equal for the same data in another checkout. Written by the
-- driver when a run starts (evaluator/results/datasets.py); a resume refuses a dataset whose
-- fingerprint changed, naming the samples (from `sample_fingerprints`).
CREATE TABLE dataset_fingerprints (
    run_id              VARCHAR NOT NULL,
    dataset             VARCHAR NOT NULL,      -- results.dataset
    kind                VARCHAR,               -- the source's kind: audiofolder, nemo, hub, ...
    source              VARCHAR,               -- the path, URL or hub id as resolved (display only)
    config              VARCHAR,               -- hub configuration
    split               VARCHAR,
    ids                 VARCHAR,               -- how sample ids were made: "file_name as ...", "column id", "row index"
    samples             BIGINT,                -- samples fingerprinted (the run's max_samples applied)
    fingerprint         VARCHAR,               -- sha256 of the sorted (sample id, digest) pairs; NULL: a stream
    audio               VARCHAR,               -- how audio entered it: sizes | contents | none
    revision            VARCHAR,               -- hub datasets: the hub commit of the cached files
    recorded_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, dataset)
);

-- Per sample: the digest of its id, reference and audio size (16 hex digits), for naming the
-- samples that changed when a resumed run's data is not what it was.
CREATE TABLE sample_fingerprints (
    run_id              VARCHAR NOT NULL,
    dataset             VARCHAR NOT NULL,
    sample_id           VARCHAR NOT NULL,
    digest              VARCHAR NOT NULL,
    PRIMARY KEY (run_id, dataset, sample_id)
);

-- Runs recorded before this migration have no rows here: the view `dataset_identity`
-- (evaluator/results/views.sql) covers every run's datasets, saying how older ids were made.
