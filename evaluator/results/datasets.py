"""What a run read, per dataset: its name, kind, how its sample ids were made and its content
fingerprint (:mod:`evaluator.data.fingerprint`), stored in ``dataset_fingerprints`` and
``sample_fingerprints`` (migration 008) and read through the ``dataset_identity`` view.

:func:`record_datasets` is what the driver calls once per run (and per resumed session): it
fingerprints each dataset and, on a resume, refuses a dataset whose samples changed since the run
recorded them, naming the samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evaluator.data.fingerprint import Fingerprint, changed_samples, fingerprint
from evaluator.data.opened import OpenedDataset
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["DatasetRead", "dataset_identity", "record_datasets", "stored_digests"]

# Sample ids named in a refusal, at most.
_NAMED = 5


@dataclass(frozen=True)
class DatasetRead:
    """One dataset of a run, as the driver opened it: its name (``results.dataset``), its spec,
    the opened data and the samples the run reads (``None``: all of a stream)."""

    name: str
    spec: DatasetSpec
    opened: OpenedDataset
    total: int | None


def stored_digests(con: Any, run_id: str, dataset: str) -> dict[str, str]:
    """The per-sample digests a run recorded for a dataset (empty: none recorded)."""
    rows = con.execute("SELECT sample_id, digest FROM sample_fingerprints WHERE run_id = ? AND dataset = ?",
                       [run_id, dataset]).fetchall()
    return dict(rows)


def _refusal(name: str, run_id: str, diff: dict[str, list[str]]) -> DatasetError:
    parts = []
    for what, ids in diff.items():
        if ids:
            shown = ", ".join(ids[:_NAMED]) + (f" and {len(ids) - _NAMED} more" if len(ids) > _NAMED else "")
            parts.append(f"{len(ids)} {what} ({shown})")
    return DatasetError(
        f"dataset {name} changed since run {run_id} read it: {'; '.join(parts)} (ids, references or audio "
        "sizes differ); resuming would mix old and new data in one run: start a new run (without --resume), or "
        "put the data back as it was")


def _write(con: Any, run_id: str, d: DatasetRead, fp: Fingerprint) -> None:
    import pyarrow as pa

    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM dataset_fingerprints WHERE run_id = ? AND dataset = ?", [run_id, d.name])
        con.execute("DELETE FROM sample_fingerprints WHERE run_id = ? AND dataset = ?", [run_id, d.name])
        con.execute(
            "INSERT INTO dataset_fingerprints (run_id, dataset, kind, source, config, split, ids, samples, "
            "fingerprint, audio, revision, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, d.name, d.opened.kind, d.spec.source, d.spec.config, d.opened.split, d.opened.ids,
             fp.samples if fp.value is not None else d.total, fp.value, fp.audio, fp.revision,
             datetime.now(UTC).replace(tzinfo=None)])
        if fp.digests:
            batch = pa.table({"sample_id": list(fp.digests), "digest": list(fp.digests.values())})
            con.register("_batch_sample_fingerprints", batch)
            try:
                con.execute("INSERT INTO sample_fingerprints (run_id, dataset, sample_id, digest) "
                            "SELECT ?, ?, sample_id, digest FROM _batch_sample_fingerprints", [run_id, d.name])
            finally:
                con.unregister("_batch_sample_fingerprints")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _check_names(con: Any, run_id: str, names: list[str]) -> None:
    """A run's stored rows carry the names its datasets have now (a run recorded when a dataset
    was named by its absolute path does not)."""
    stored = [n for (n,) in con.execute("SELECT DISTINCT dataset FROM results WHERE run_id = ? ORDER BY 1",
                                        [run_id]).fetchall()]
    other = [n for n in stored if n not in names]
    if other:
        raise DatasetError(f"run {run_id} stored its rows under the dataset name {', '.join(other)}, which this "
                           f"version names {', '.join(names)}: resuming would evaluate every sample again under "
                           "the new name; start a new run (without --resume)")


def _check_old_ids(con: Any, run_id: str, name: str, digests: dict[str, str]) -> None:
    """The sample ids a run stored before fingerprints still name samples of the dataset (they
    were row indexes where the data had no id column; now they are file names or paths)."""
    stored = [i for (i,) in con.execute("SELECT DISTINCT sample_id FROM results WHERE run_id = ? AND dataset = ? "
                                        "ORDER BY 1", [run_id, name]).fetchall()]
    lost = [i for i in stored if i not in digests]
    if lost:
        raise DatasetError(
            f"run {run_id} stored {len(lost)} sample ids of dataset {name} that are not its ids now "
            f"({', '.join(lost[:_NAMED])}{', ...' if len(lost) > _NAMED else ''}): the run was recorded by an "
            "older version, whose ids were row indexes where the data had no id column; resuming would "
            "evaluate those samples again under their new ids: start a new run (without --resume)")


def _stored_audio(con: Any, run_id: str, dataset: str, default: bool) -> bool:
    row = con.execute("SELECT audio FROM dataset_fingerprints WHERE run_id = ? AND dataset = ?",
                      [run_id, dataset]).fetchone()
    return row[0] == "contents" if row and row[0] in ("sizes", "contents") else default


def _fingerprint(d: DatasetRead, verify: bool, known: Mapping[tuple[DatasetSpec, bool], Fingerprint]) -> Fingerprint:
    made = known.get((d.spec, verify))
    if made is not None and (made.value is None or made.samples == d.total):
        return made
    return fingerprint(d.opened, d.total, verify)


def record_datasets(store: Any, run_id: str, datasets: Sequence[DatasetRead], *, resume: bool = False,
                    verify_audio: bool = False,
                    known: Mapping[tuple[DatasetSpec, bool], Fingerprint] | None = None) -> list[Fingerprint]:
    """Fingerprint each dataset of a run and store it (replacing what an earlier session stored).

    With ``resume``, a dataset whose samples differ from what the run recorded (a changed
    reference or audio size, an added or removed sample) is refused before anything is written;
    its audio is fingerprinted as the run's first session did (sizes, or contents). ``known``:
    fingerprints already made, by (spec, ``verify_audio``) (the driver makes them while Ray
    starts); one is used where it covers the samples the run reads.

    Raises:
        DatasetError: on a resume, a dataset changed; the message names the samples.
    """
    if resume:  # audio is fingerprinted the way the run's first session did it
        verify = [_stored_audio(store.con, run_id, d.name, verify_audio) for d in datasets]
    else:
        verify = [verify_audio] * len(datasets)
    prints = [_fingerprint(d, v, known or {}) for d, v in zip(datasets, verify, strict=True)]
    if resume:
        _check_names(store.con, run_id, [d.name for d in datasets])
        for d, fp in zip(datasets, prints, strict=True):
            before = stored_digests(store.con, run_id, d.name)
            if before and fp.value is not None:
                diff = changed_samples(before, fp.digests)
                if any(diff.values()):
                    raise _refusal(d.name, run_id, diff)
            elif not before and fp.value is not None:  # a run recorded before fingerprints
                _check_old_ids(store.con, run_id, d.name, fp.digests)
    for d, fp in zip(datasets, prints, strict=True):
        _write(store.con, run_id, d, fp)
    return prints


def dataset_identity(con: Any, run_id: str) -> list[dict[str, Any]]:
    """The ``dataset_identity`` rows of a run (one per dataset), as dicts."""
    cur = con.execute("SELECT * FROM dataset_identity WHERE run_id = ? ORDER BY dataset", [run_id])
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
