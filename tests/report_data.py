"""A small results database for the HTML report tests: two runs; the latest has three models,
two languages, three speakers (metadata), an error row, a truncated and a looping row, markup in a transcript, and one
long file stitched from windows with seams."""

from __future__ import annotations

import json
from typing import Any

from evaluator.results.store import Store
from evaluator.scoring.rows import finalize_row

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


def _row(run_id: str, model: str, index: int, sample_id: str, language: str, seconds: float, reference: str,
         hypothesis: str | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run_id, "model": model, "backend": model.split(":")[0], "dataset": "testset", "split": "test",
        "sample_id": sample_id, "sample_index": index, "language": language, "audio_seconds": seconds,
        "reference": reference, "hypothesis": hypothesis,
        "decode_seconds": 0.01,
        "inference_seconds": None if hypothesis is None else seconds / (4 + 2 * MODELS.index(model)),
        "device": "cpu", "worker": "w0", "error": "RuntimeError: out of memory" if hypothesis is None else None,
        "long_form": "native", "num_chunks": 1, "metadata": json.dumps({"speaker": SPEAKERS.get(sample_id, "carol")}),
        **extra,
    }
    return finalize_row(row)


def make_report_db(path: str) -> None:
    """Write the database at ``path``."""
    with Store(path) as store:
        for run_id in (OLD_RUN, RUN):
            store.create_run(run_id, run_id, {}, evaluator_version="test", normalizer=("test", "1"), host={})
        store.insert_results([_row(OLD_RUN, MODELS[0], 0, "s-old", "en", 1.0, "old run", "old run")])
        rows = []
        for index, (sample_id, (language, seconds, reference, hyps)) in enumerate(SAMPLES.items()):
            for model, hyp in zip(MODELS, hyps, strict=True):
                rows.append(_row(RUN, model, index, sample_id, language, seconds, reference, hyp))
        long_ref = " ".join(f"sentence number {i} is spoken here" for i in range(40))
        # sentences 10-14 left out: 25 reference words in a row missing, flagged skipped
        long_hyp = " ".join(f"sentence number {i} is spoken here" for i in range(40) if not 10 <= i < 15)
        rows.append(_row(RUN, MODELS[0], len(SAMPLES), LONG_ID, "en", LONG_SECONDS, long_ref, long_hyp,
                         long_form="chunked", num_chunks=4))
        chunks = [{"run_id": RUN, "model": MODELS[0], "sample_id": LONG_ID, "chunk_index": i, "start_s": 25.0 * i,
                   "end_s": min(25.0 * i + 30, LONG_SECONDS), "hypothesis": "...", "inference_seconds": 1.0,
                   "worker": "w0", "error": None, "seam": seam, "seam_matched": matched, "seam_cut_s": cut}
                  for i, (seam, matched, cut) in enumerate(
                      [(None, None, None), ("aligned", 9, 27.5), ("midpoint", 1, 52.5), ("aligned", 7, 77.0)])]
        store.insert_results(rows, chunks)
        store.finish_run(OLD_RUN, "finished", {})
        store.finish_run(RUN, "finished", {})
