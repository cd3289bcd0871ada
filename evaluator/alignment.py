"""Word alignment of a hypothesis against its reference, for error analysis.

``align`` gives the word operations (the same jiwer alignment ``metrics.score`` counts, so the
hits, substitutions, deletions and insertions agree with the stored counts), ``render`` draws
them sclite-style for a terminal, and ``confusions`` counts sclite's confusion pairs
("their -> there", deletions, insertions) over many rows. ``run_confusions`` computes them for
a stored run from its normalized text (used by ``Store.write_word_errors`` and by
``evaluator errors`` on runs written before the ``word_errors`` table existed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OPS",
    "ERROR_OPS",
    "WordOp",
    "OpCounts",
    "align",
    "count_ops",
    "render",
    "confusions",
    "run_confusions",
]

OPS = ("equal", "substitute", "delete", "insert")
ERROR_OPS = ("substitute", "delete", "insert")


@dataclass(frozen=True)
class WordOp:
    """One step of a word alignment.

    Attributes:
        op: ``equal``, ``substitute``, ``delete`` (a reference word the hypothesis lacks) or
            ``insert`` (a hypothesis word the reference lacks).
        ref: the reference word (None for an insertion).
        hyp: the hypothesis word (None for a deletion).
    """

    op: str
    ref: str | None
    hyp: str | None


@dataclass(frozen=True)
class OpCounts:
    """Counts of an alignment, as ``metrics.Score`` stores them.

    ``wer`` is None for an empty reference (such rows are not scored).
    """

    hits: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def ref_words(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        return None if self.ref_words == 0 else self.errors / self.ref_words


def align(reference_norm: str, hypothesis_norm: str) -> list[WordOp]:
    """Word operations turning the (normalized) reference into the (normalized) hypothesis.

    Words are split on whitespace. An empty reference gives only insertions, an empty
    hypothesis only deletions, both empty nothing.
    """
    import jiwer

    ref = (reference_norm or "").split()
    hyp = (hypothesis_norm or "").split()
    if not ref:
        return [WordOp("insert", None, w) for w in hyp]
    if not hyp:
        return [WordOp("delete", w, None) for w in ref]
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    ref_words, hyp_words = out.references[0], out.hypotheses[0]
    ops: list[WordOp] = []
    for chunk in out.alignments[0]:
        refs = ref_words[chunk.ref_start_idx:chunk.ref_end_idx]
        hyps = hyp_words[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type == "insert":
            ops += [WordOp("insert", None, h) for h in hyps]
        elif chunk.type == "delete":
            ops += [WordOp("delete", r, None) for r in refs]
        else:  # equal / substitute chunks pair words one to one
            ops += [WordOp(chunk.type, r, h) for r, h in zip(refs, hyps, strict=True)]
    return ops


def count_ops(ops: Iterable[WordOp]) -> OpCounts:
    """Hits, substitutions, deletions and insertions of an alignment."""
    c = Counter(o.op for o in ops)
    return OpCounts(c["equal"], c["substitute"], c["delete"], c["insert"])


_EVAL_MARK = {"equal": "", "substitute": "S", "delete": "D", "insert": "I"}


def render(ops: Sequence[WordOp], width: int = 100, labels: tuple[str, str] = ("REF", "HYP"),
           eval_line: bool = True) -> str:
    """The alignment as sclite prints it: a REF and a HYP line with one column per operation,
    errors in upper case, asterisks where a word is missing (insertions and deletions), and an
    ``Eval`` line marking S, D and I; wrapped at ``width`` characters. An empty alignment gives
    the labels with nothing after them."""
    if width < 20:
        raise ValueError(f"width must be at least 20 characters, got {width}")
    names = (*labels, "Eval") if eval_line else labels
    pad = max(len(n) for n in names) + 2
    heads = [f"{n}:".ljust(pad) for n in names]
    blocks: list[list[str]] = []
    lines: list[list[str]] = [[] for _ in names]
    used = pad
    for o in ops:
        ref, hyp = o.ref or "", o.hyp or ""
        if o.op != "equal":
            ref, hyp = ref.upper(), hyp.upper()
        w = max(len(ref), len(hyp), 3 if o.op in ("insert", "delete") else 1)
        cells = [ref or "*" * w, hyp or "*" * w, _EVAL_MARK[o.op]][:len(names)]
        if lines[0] and used + w + 1 > width:
            blocks.append(["".join([h, " ".join(cols)]).rstrip() for h, cols in zip(heads, lines, strict=True)])
            lines = [[] for _ in names]
            used = pad
        for col, cell in zip(lines, cells, strict=False):
            col.append(cell.ljust(w))
        used += w + 1
    blocks.append(["".join([h, " ".join(cols)]).rstrip() for h, cols in zip(heads, lines, strict=True)])
    return "\n\n".join("\n".join(b) for b in blocks)


ConfusionKey = tuple[str, str, str | None, str | None]


def confusions(rows: Iterable[tuple[str, str | None, str | None]]) -> Counter[ConfusionKey]:
    """Count confusion pairs over ``(model, reference_norm, hypothesis_norm)`` rows: keys are
    ``(model, op, ref_word, hyp_word)`` with op ``substitute``, ``delete`` (hyp_word None) or
    ``insert`` (ref_word None). Correct words are not counted. None text counts as empty."""
    counts: Counter[ConfusionKey] = Counter()
    for model, ref, hyp in rows:
        counts.update((model, o.op, o.ref, o.hyp) for o in align(ref or "", hyp or "") if o.op != "equal")
    return counts


_RUN_ROWS_SQL = """
SELECT model, reference_norm, hypothesis_norm FROM results
WHERE run_id = ? AND error IS NULL AND (? IS NULL OR model = ?)
"""


def run_confusions(con: Any, run_id: str, model: str | None = None,
                   batch: int = 10_000) -> Counter[ConfusionKey]:
    """Confusion pairs of a stored run (every error-free row, optionally of one model), from
    its stored normalized text, read in batches on ``con`` (a DuckDB connection, read-only
    or not)."""
    cur = con.execute(_RUN_ROWS_SQL, [run_id, model, model])
    counts: Counter[ConfusionKey] = Counter()
    while rows := cur.fetchmany(batch):
        counts.update(confusions(rows))
    return counts
