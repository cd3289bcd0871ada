"""`evaluator run`: evaluate models on a dataset (or resume a run), then print its leaderboard."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import time
from typing import Any

from evaluator.cli.common import (
    DEFAULT_DB,
    add_db,
    add_wide,
    leaderboard_text,
    quiet_ray,
)
from evaluator.cli.tables import FORMATS
from evaluator.data.registry import dataset_help
from evaluator.errors import ConfigError
from evaluator.run.quiet import QUIET_WORKERS

log = logging.getLogger("evaluator")


RUN_EPILOG = """
examples:
  evaluator run --model faster-whisper:tiny.en                    # bundled sample data
  evaluator run --dataset ./my_audiofolder --model faster-whisper:base --model faster-whisper:tiny.en
  evaluator run --dataset openslr/librispeech_asr --dataset-config clean --split test \\
                --model faster-whisper:Systran/faster-whisper-small --max-samples 200
  evaluator run --config run.yaml                                 # same keys as the flags
  evaluator run --suite open-asr-en --model faster-whisper:base     # a preset suite: 7 test sets, one run
  evaluator run --suite fleurs --languages en,de --model faster-whisper:base
  evaluator run --suite my_suite.yaml --model ... --model ...       # see docs/suites.md
  evaluator run --dataset ./calls --dataset ./meetings --model ... # several datasets, one run
  evaluator run --resume 20261124-140102-ab12 --db results.duckdb # finish an interrupted run (id or name)

model specs are BACKEND:MODEL[?option=value&...], e.g. faster-whisper:base?beam_size=5.
Exit status: 0 when the run finished (even with some error rows), 1 when every sample
failed, 2 on a usage error or a refused resume, 130 when interrupted (it prints the resume command).
"""


def _add_suite(data: dict[str, Any], args: argparse.Namespace) -> None:
    """The suite's datasets into the config mapping (``--suite`` wins over a config file's ``suite``)."""
    from evaluator.data.suites import load_suite

    if args.dataset or data.get("dataset"):
        raise ConfigError("give the datasets either with --suite or with --dataset, not both")
    languages = args.languages.split(",") if args.languages else data.pop("languages", None)
    suite = load_suite(str(args.suite or data["suite"]), languages, args.mirror or data.pop("mirror", None))
    data.pop("suite", None)
    data["datasets"] = list(suite.datasets)
    data.setdefault("name", suite.name)


def _run_config(args: argparse.Namespace) -> Any:
    from evaluator.run.plan.config import RunConfig

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
    if args.suite or data.get("suite"):
        _add_suite(data, args)
    elif args.languages:
        raise ConfigError("--languages picks the languages of a --suite (fleurs, common-voice)")
    flags = {
        "dataset": args.dataset, "config": args.dataset_config, "split": args.split,
        "streaming": args.streaming, "audio_column": args.audio_column,
        "text_column": args.text_column, "id_column": args.id_column,
        "language_column": args.language_column, "max_samples": args.max_samples,
        "verify_audio": args.verify_audio,
        "device": args.device, "language": args.language, "detect_language": args.detect_language,
        "actors_per_model": args.actors_per_model, "cpus_per_actor": args.cpus_per_actor,
        "gpus_per_actor": args.gpus_per_actor,
        "shard_size": args.shard_size, "address": args.address, "name": args.name,
        "long_form": args.long_form, "chunk_seconds": args.chunk_seconds,
        "chunk_overlap": args.chunk_overlap, "chunks_per_job": args.chunks_per_job, "scoring": args.scoring,
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


def add_parser(sub: Any) -> None:
    """Add `evaluator run` to the subcommands."""
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
    g.add_argument("--dataset", metavar="[NAME=]SOURCE", action="append", help=dataset_help())
    g.add_argument("--suite", metavar="FILE|NAME",
                   help="evaluate every model on every dataset of a suite, in one run: a YAML file (see "
                   "docs/suites.md) or a preset: open-asr-en, open-asr-en-2025, open-asr-en-longform, "
                   "open-asr-multilingual, fleurs, common-voice")
    g.add_argument("--languages", metavar="L1,L2",
                   help="with a per-language --suite (fleurs, common-voice): the languages, e.g. en,de")
    g.add_argument("--mirror", metavar="DIR",
                   help="with --suite: local copies of hub datasets, DIR/ORG/NAME/CONFIG, used instead of the hub "
                   "where present")
    g.add_argument("--dataset-config", "--subset", dest="dataset_config", metavar="NAME",
                   help="hub dataset configuration (load_dataset's second argument)")
    g.add_argument("--split", help="split (default: the only split, else 'test')")
    g.add_argument("--streaming", action="store_true", default=None,
                   help="read the dataset as a stream of file shards (a hub dataset is not downloaded whole)")
    g.add_argument("--audio-column", help="override audio column detection")
    g.add_argument("--text-column", help="override reference text column detection")
    g.add_argument("--id-column", help="override sample id column detection (default: an id column, else what "
                   "names the sample in its source: a file name, a manifest's audio path; else the row index)")
    g.add_argument("--language-column", help="override language column detection")
    g.add_argument("--max-samples", type=int, metavar="N", help="evaluate only the first N samples")
    g.add_argument("--verify-audio", action="store_true", default=None,
                   help="fingerprint the datasets' audio by its full contents (hashes cached by path, size and "
                   "modification time), not by file sizes; see docs/datasets.md")
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
    g.add_argument("--dashboard", action="store_true",
                   help="a new local Ray cluster serves Ray's dashboard (off by default: it adds seconds to the start)")
    g.add_argument("--plan", action="store_true",
                   help="print where each model would run (device, actors, threads, memory per actor, long-form "
                        "strategy, and why) and exit; loads nothing and starts no actor")
    g = run.add_argument_group("results")
    add_db(g)
    g.add_argument("--scoring", choices=("whisper", "open-asr-leaderboard", "exact"),
                   help="scoring profile (default: whisper): whisper = Whisper's normalizers; open-asr-leaderboard = "
                   "the Open ASR Leaderboard's normalizers and compound-merging counts; exact = raw text, case and "
                   "punctuation count (docs/open-asr-leaderboard.md); `evaluator rescore --scoring` changes it later")
    g.add_argument("--name", help="a label for the run")
    g.add_argument("--resume", metavar="RUN", help="evaluate only what RUN (an id, or a name: its latest run) has "
                   "not stored yet; refused while a live driver holds the run")
    g.add_argument("--retry-errors", action="store_true", help="with --resume: re-evaluate error rows")
    g.add_argument("--force", action="store_true",
                   help="with --resume: take over a run whose driver on another machine stopped beating (its lease "
                   "expired) but cannot be shown gone from here; a live driver's run is never taken over")
    g.add_argument("--format", choices=FORMATS, default="table", help="leaderboard format at the end")
    add_wide(g)
    run.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    if args.resume:  # a live run is refused before anything heavy is imported: at once
        from evaluator.errors import RunBusyError
        from evaluator.results.lease import find_live, refusal

        holder = find_live(args.db or DEFAULT_DB, args.resume)
        if holder is not None:
            raise RunBusyError(refusal(holder, args.db or DEFAULT_DB))
    from evaluator.run import launch

    launch.prepare()  # the cluster's token, before anything imports Ray
    if args.retry_errors and not args.resume:
        raise ConfigError("--retry-errors only applies with --resume RUN")
    if args.force and not args.resume:
        raise ConfigError("--force only applies with --resume RUN")
    config = None if args.resume else _run_config(args)
    db = launch.database_path(args.db or (config.db if config else DEFAULT_DB))
    if config is not None:
        config = dataclasses.replace(config, db=db)  # recorded as the absolute path
    run_id = None
    if args.resume:  # refused at once while a live driver holds the run
        run_id, config = launch.find_run(db, args.resume)
    assert config is not None
    launch.check_models(config)  # before Ray starts or the database opens
    quiet_ray(args.verbose)
    workers = None if args.verbose else QUIET_WORKERS
    if args.plan:  # reads the database if there is one; creates nothing
        from evaluator.run.driver import check_languages
        from evaluator.run.plan.cluster import connect_ray

        check_languages(config)
        connect_ray(config.address, args.num_cpus, env_vars=workers)
        return _print_plan(config, db)
    session = launch.Session(config, db, run_id=run_id, force=args.force, num_cpus=args.num_cpus, env_vars=workers,
                             dashboard=args.dashboard, stop_local_ray=True)
    try:
        session.__enter__()  # joins Ray (seconds): an interrupt there stores nothing
    except KeyboardInterrupt:
        if run_id is not None:
            log.error("interrupted; finish with: %s", launch.resume_command(run_id, db))
        else:
            log.error("interrupted while joining Ray, before run %s started; nothing was stored", session.run_id)
        return 130
    try:
        store = session.store
        assert store is not None
        signal.signal(signal.SIGTERM, _interrupt)  # `kill`, or a scheduler stopping the job: as Ctrl-C
        try:
            with _ProgressView() as view:
                summary = session.run(retry_errors=args.retry_errors, on_progress=view)
        except KeyboardInterrupt:
            log.error("interrupted; finish with: %s", launch.resume_command(session.run_id, db))
            return 130
        board = ""
        if len(config.datasets) > 1:  # one row per model over the suite's datasets (printed here)
            from evaluator.cli.leaderboard import suite_printed

            suite_printed(store.con, summary.run_id, args.format)
        else:
            board = leaderboard_text(store.con, summary.run_id, args.format, wide=args.wide)
        store.release()
        if board:  # before the local cluster stops
            sys.stdout.write(board + "\n")
            sys.stdout.flush()
    finally:
        session.__exit__(None, None, None)
    for label, error in summary.failed_models.items():
        log.error("%s produced no results: %s", label, error)
    log.info("run %s %s in %.1f s: %d rows, %d errors; results in %s", summary.run_id, summary.status,
             summary.wall_seconds, summary.rows, summary.errors, db)
    if summary.errors:
        log.warning("%d samples failed; see: evaluator sql --db %s \"SELECT model, sample_id, error "
                    "FROM results WHERE run_id = '%s' AND error IS NOT NULL\"",
                    summary.errors, db, summary.run_id)
    return 1 if summary.all_failed or summary.failed_models and summary.rows == 0 else 0
