"""Size and build time of the HTML report on a synthetic run of N rows (default 10,000:
4 models x 2,500 utterances of 8-30 words, ~15% word errors), with the sample browser capped
(the default, 1,000 samples) and uncapped.

    python bench/report_size.py [--rows 10000] [--db /tmp/report_bench.duckdb]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from evaluator.report.html import ReportOptions, build_report
from evaluator.results.store import Store, connect_read_only
from evaluator.scoring.metrics import score

MODELS = ("faster-whisper:tiny.en", "faster-whisper:base", "openai-whisper:tiny.en", "transformers:tiny.en")
WORDS = ("the quick brown fox jumps over lazy dog river morning sister letters power children stories "
         "candle light train delayed snow conductor passenger bridge engineers traffic careful debate student "
         "garden window music evening weather market coffee table paper station mountain").split()


def _hypothesis(rng: random.Random, ref: list[str], error_rate: float) -> str:
    out = []
    for w in ref:
        roll = rng.random()
        if roll < error_rate / 3:
            out.append(rng.choice(WORDS))  # substitution
        elif roll < 2 * error_rate / 3:
            continue  # deletion
        elif roll < error_rate:
            out += [w, rng.choice(WORDS)]  # insertion
        else:
            out.append(w)
    return " ".join(out)


def build_db(path: str, rows: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    run_id = "bench-report"
    samples = rows // len(MODELS)
    refs = [[rng.choice(WORDS) for _ in range(rng.randint(8, 30))] for _ in range(samples)]
    with Store(path) as store:
        store.create_run(run_id, "bench", {}, evaluator_version="bench", normalizer=("bench", "0"), host={})
        batch = []
        for m, model in enumerate(MODELS):
            for i, ref in enumerate(refs):
                reference = " ".join(ref)
                s = score(reference, _hypothesis(rng, ref, 0.05 + 0.05 * m))
                batch.append({
                    "run_id": run_id, "model": model, "backend": model.split(":")[0], "dataset": "synthetic",
                    "split": "test", "sample_id": f"utt-{i:05d}", "sample_index": i, "language": "en",
                    "audio_seconds": 0.4 * len(ref), "reference": reference, "hypothesis": s.hypothesis_norm,
                    "reference_norm": s.reference_norm, "hypothesis_norm": s.hypothesis_norm, "hits": s.hits,
                    "substitutions": s.substitutions, "deletions": s.deletions, "insertions": s.insertions,
                    "ref_words": s.ref_words, "hyp_words": s.hyp_words, "ref_chars": s.ref_chars,
                    "char_errors": s.char_errors, "decode_seconds": 0.01,
                    "inference_seconds": 0.02 * (m + 1) * len(ref),
                    "truncated": False, "looping": False, "skipped": False, "device": "cpu", "worker": "w0",
                })
        store.insert_results(batch)
        store.finish_run(run_id, "finished", {})
    return run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "report_bench.duckdb"))
    args = parser.parse_args()
    if os.path.exists(args.db):
        os.remove(args.db)
    t = time.perf_counter()
    run_id = build_db(args.db, args.rows)
    print(f"built {args.rows:,}-row database in {time.perf_counter() - t:.1f} s: {args.db}")
    con = connect_read_only(args.db)
    for label, cap in (("default cap", ReportOptions().max_samples), ("no cap", args.rows)):
        t = time.perf_counter()
        page = build_report(con, run_id, ReportOptions(max_samples=cap))
        seconds = time.perf_counter() - t
        print(f"{label:12s} max_samples={cap:>6,}: {len(page.encode()) / 1e6:5.2f} MB in {seconds:5.2f} s")


if __name__ == "__main__":
    main()
