"""`evaluator show`: one sample's reference and every model's aligned hypothesis."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from evaluator.cli.common import (
    add_db,
    open_ro,
    resolve_run,
)

log = logging.getLogger("evaluator")


def _raw(text: str | None, limit: int = 600) -> str:
    """Raw text for `show`; a long file's is left to the alignment below it (and to --format json)."""
    text = text or ""
    return text if len(text) <= limit else f"({len(text):,} characters; --format json prints them)"


def add_parser(sub: Any) -> None:
    """Add `evaluator show` to the subcommands."""
    show = sub.add_parser("show", help="print one sample's reference and every model's aligned hypothesis",
                          description="The word alignment of one sample for every model of a run, sclite-style: "
                          "errors in upper case, *** where a word is missing, S/D/I marks, and the "
                          "sample's counts and WER per model.")
    add_db(show)
    show.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    show.add_argument("--sample", required=True, metavar="ID",
                      help="sample id (results.sample_id): a file name, a manifest's audio path, an id column's value")
    show.add_argument("--dataset", metavar="NAME", help="the sample's dataset (results.dataset): needed when "
                      "the run holds the id in several datasets")
    show.add_argument("--model", help="only this model")
    show.add_argument("--width", type=int, default=100, metavar="N", help="wrap alignments at N characters")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    import json

    from evaluator.results.word_errors import sample_view
    from evaluator.scoring.alignment import render as render_alignment

    con = open_ro(args.db)
    run_id = resolve_run(con, args.run_id, args.db)
    view = sample_view(con, run_id, args.sample, args.model, args.dataset)
    if args.format == "json":
        out = {
            "run_id": view.run_id, "sample_id": view.sample_id, "dataset": view.dataset, "split": view.split,
            "audio_seconds": view.audio_seconds, "reference": view.reference,
            "reference_norm": view.reference_norm,
            "models": [{"model": m.model, "hypothesis": m.hypothesis, "error": m.error,
                        "hits": m.counts.hits, "substitutions": m.counts.substitutions,
                        "deletions": m.counts.deletions, "insertions": m.counts.insertions,
                        "wer": None if m.error else m.counts.wer,
                        "ops": [{"op": o.op, "ref": o.ref, "hyp": o.hyp} for o in m.ops]} for m in view.models],
        }
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return 0
    audio = "" if view.audio_seconds is None else f", {view.audio_seconds:.1f} s"
    lines = [f"run {view.run_id}, sample {view.sample_id} ({view.dataset}/{view.split}{audio})",
             f"reference: {_raw(view.reference)}"]
    for m in view.models:
        lines += ["", f"== {m.model}"]
        if m.error is not None:
            lines.append(f"error: {m.error}")
            continue
        c = m.counts
        wer = "n/a (empty reference)" if c.wer is None else f"{100 * c.wer:.2f}% ({c.errors}/{c.ref_words})"
        lines.append(f"hits {c.hits}, substitutions {c.substitutions}, deletions {c.deletions}, "
                     f"insertions {c.insertions}; WER {wer}")
        if m.stored is not None and m.stored != c:
            lines.append(f"warning: the stored counts differ: {m.stored}")
        lines.append(f"hypothesis: {_raw(m.hypothesis)}")
        lines.append(render_alignment(m.ops, width=max(args.width, 20)))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
