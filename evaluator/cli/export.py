"""`evaluator export`: a run's predictions as manifests other tools score."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from evaluator.cli.common import add_db, open_ro, resolve_run

log = logging.getLogger("evaluator")


def add_parser(sub: Any) -> None:
    """Add `evaluator export` to the subcommands."""
    from evaluator.results.export import EXPORT_FORMATS

    ex = sub.add_parser(
        "export", help="write a run's predictions as manifests (Open ASR Leaderboard, NeMo, CSV)",
        description="Write one manifest per model and dataset of a run into --out: "
        "open-asr-leaderboard (MODEL_<model>_DATASET_<dataset>_<split>.jsonl, read unchanged by the "
        "leaderboard's normalizer.eval_utils.score_results), nemo (audio_filepath, duration, text, pred_text: "
        "NeMo's speech_to_text_eval.py), csv (id, reference, hypothesis, seconds, audio_seconds). Error rows "
        "have no prediction and are left out (counted in the log). A manifest read back with "
        "--model predictions:FILE scores the same WER as the model that made it.")
    add_db(ex)
    ex.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    ex.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="manifest format")
    ex.add_argument("--out", required=True, metavar="DIR", help="folder to write the manifests into")
    ex.add_argument("--model", "-m", dest="models", action="append", metavar="SPEC",
                    help="only this model (repeatable; default: every model of the run)")
    ex.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from evaluator.results.export import export_run

    con = open_ro(args.db)
    try:
        run_id = resolve_run(con, args.run_id, args.db)
        result = export_run(con, run_id, args.format, args.out, args.models)
    finally:
        con.close()
    for f in result.files:
        note = f" ({f.errors} error rows left out: they have no prediction)" if f.errors else ""
        log.info("%s: %s on %s, %d rows%s", f.path, f.model, f.dataset, f.rows, note)
    return 0
