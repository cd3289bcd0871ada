"""A small results database for the HTML report tests: two runs; the latest has three models,
two languages, three speakers (metadata), an error row, a truncated and a looping row, markup in a transcript, and one
long file stitched from windows with seams. The latest run's dataset is an audiofolder of tones written beside the
database (so the report can embed its audio); the old run's dataset is not on disk."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Any

import numpy as np

from evaluator.results.records import ChunkRow
from evaluator.results.store import Store
from tests.factories import RUNTIME, create_run, result_row

OLD_RUN = "run-old"
RUN = "run-new"
MODELS = ("model-a:x", "model-b:y", "model-c:z")
XSS = '<!-- </script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 1">'

# sample id -> (language, seconds, reference, hypothesis per model; None: an error row)
SAMPLES: dict[str, tuple[str, float, str, tuple[str | None, ...]]] = {
    "s-their": ("en", 3.0, "I saw their house yesterday",
                ("I saw their house yesterday", "I saw there house yesterday", "I saw there house")),
    "s-quick": ("en", 4.0, "the quick brown fox jumps",
                ("the quick brown fox jumps", "the quick brown fox jumps over", "the quick fox jumps")),
    "s-river": ("en", 12.0, "bright orange leaves covered the path that led down to the river",
                ("bright orange leaves covered the path that led down to the river",
                 "bright orange leaves covered the path that led down to the river", None)),
    "s-markup": ("en", 2.0, "hello world", ("hello world", XSS, "hello world")),
    "s-short": ("fr", 5.0, "bonjour tout le monde ici aujourd'hui nous parlons ensemble maintenant",
                ("bonjour tout le monde", "bonjour tout le monde ici aujourd'hui nous parlons ensemble maintenant",
                 "bonjour tout le monde ici aujourd'hui nous parlons ensemble")),
    "s-loop": ("fr", 6.0, "merci beaucoup",
               ("merci beaucoup", "merci beaucoup", "merci beaucoup " + "merci merci merci " * 20)),
}
LONG_ID = "long-file"
# results.metadata: a speaker per sample (the long file's is carol)
SPEAKERS = {"s-their": "alice", "s-quick": "alice", "s-river": "alice", "s-markup": "bob", "s-short": "bob",
            "s-loop": "bob"}
LONG_SECONDS = 95.0
VERSION: dict[str, Any] = {"version": "test", "normalizer": ("test", "1")}


def write_audiofolder(folder: str) -> None:
    """The latest run's dataset: one 16 kHz FLAC tone per sample (its length the sample's seconds)
    and a metadata.csv with id and transcription."""
    import soundfile as sf

    os.makedirs(folder, exist_ok=True)
    clips = {sid: (seconds, reference) for sid, (_, seconds, reference, _) in SAMPLES.items()}
    clips[LONG_ID] = (LONG_SECONDS, "long")
    with open(os.path.join(folder, "metadata.csv"), "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["file_name", "transcription", "id"])
        for k, (sid, (seconds, reference)) in enumerate(clips.items()):
            t = np.arange(int(seconds * 16_000)) / 16_000
            tone = 0.3 * np.sin(2 * np.pi * (220 + 40 * k) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
            sf.write(os.path.join(folder, f"{sid}.flac"), tone.astype(np.float32), 16_000)
            out.writerow([f"{sid}.flac", reference, sid])


def dataset_rows(folder: str) -> tuple[str, str, dict[str, int]]:
    """(dataset name, split, sample id -> row index) as the driver records them."""
    from evaluator.data.sources import open_dataset
    from evaluator.data.spec import DatasetSpec

    opened = open_dataset(DatasetSpec(source=folder))
    ids = list(opened.data.values(opened.columns.id))
    return opened.name, opened.split, {sid: i for i, sid in enumerate(ids)}


def _row(run_id: str, model: str, index: int, sample_id: str, language: str, seconds: float, reference: str,
         hypothesis: str | None, dataset: tuple[str, str] = ("testset", "test"), **extra: Any) -> dict[str, Any]:
    return result_row(run_id, model, sample_id, reference, hypothesis, dataset=dataset[0], split=dataset[1],
                      index=index, language=language, audio_seconds=seconds,
                      inference_seconds=None if hypothesis is None else seconds / (4 + 2 * MODELS.index(model)),
                      error="RuntimeError: out of memory" if hypothesis is None else None,
                      metadata=json.dumps({"speaker": SPEAKERS.get(sample_id, "carol")}), **{**RUNTIME, **extra})


def make_report_db(path: str) -> str:
    """Write the database at ``path`` and the latest run's audiofolder beside it (returned)."""
    folder = os.path.join(os.path.dirname(os.path.abspath(path)), "audio")
    write_audiofolder(folder)
    name, split, indices = dataset_rows(folder)
    ds = (name, split)
    with Store(path) as store:
        create_run(store, OLD_RUN, config={"dataset": {"source": "/nonexistent/old-dataset"}}, **VERSION)
        create_run(store, RUN, models=MODELS, config={"dataset": {"source": folder}}, **VERSION)
        store.insert_results([_row(OLD_RUN, MODELS[0], 0, "s-old", "en", 1.0, "old run", "old run")])
        rows = []
        for sample_id, (language, seconds, reference, hyps) in SAMPLES.items():
            for model, hyp in zip(MODELS, hyps, strict=True):
                rows.append(_row(RUN, model, indices[sample_id], sample_id, language, seconds, reference, hyp, ds))
        long_ref = " ".join(f"sentence number {i} is spoken here" for i in range(40))
        # sentences 10-14 left out: 25 reference words in a row missing, flagged skipped
        long_hyp = " ".join(f"sentence number {i} is spoken here" for i in range(40) if not 10 <= i < 15)
        rows.append(_row(RUN, MODELS[0], indices[LONG_ID], LONG_ID, "en", LONG_SECONDS, long_ref, long_hyp, ds,
                         long_form="chunked", num_chunks=4))
        chunks = [{"run_id": RUN, "model": MODELS[0], "sample_id": LONG_ID, "chunk_index": i, "start_s": 25.0 * i,
                   "end_s": min(25.0 * i + 30, LONG_SECONDS), "hypothesis": "...", "inference_seconds": 1.0,
                   "worker": "w0", "error": None, "seam": seam, "seam_matched": matched, "seam_cut_s": cut}
                  for i, (seam, matched, cut) in enumerate(
                      [(None, None, None), ("aligned", 9, 27.5), ("midpoint", 1, 52.5), ("aligned", 7, 77.0)])]
        if "dataset" in {f.name for f in dataclasses.fields(ChunkRow)}:  # chunks keyed by dataset (suites)
            chunks = [{**c, "dataset": name} for c in chunks]
        store.insert_results(rows, chunks)
        store.finish_run(OLD_RUN, "finished", {})
        store.finish_run(RUN, "finished", {})
    return folder
