"""Word alignment of a hypothesis against its reference, for error analysis.

``align`` gives the word operations (the same jiwer alignment ``metrics.score`` counts, so the
hits, substitutions, deletions and insertions agree with the stored counts), ``render`` draws
them sclite-style for a terminal, and ``confusions`` counts sclite's confusion pairs
("their -> there", deletions, insertions) over many rows. Pure functions over text: reading a
stored run's rows is :mod:`evaluator.results.word_errors`' job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
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
    "ConfusionKey",
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


def _walk(out: Any, k: int, errors_only: bool) -> Iterator[tuple[str, str | None, str | None]]:
    """(op, ref word, hyp word) of sentence ``k`` of a jiwer ``process_words`` output."""
    ref_words, hyp_words = out.references[k], out.hypotheses[k]
    for chunk in out.alignments[k]:
        kind = chunk.type
        if kind == "equal" and errors_only:
            continue
        refs = ref_words[chunk.ref_start_idx:chunk.ref_end_idx]
        hyps = hyp_words[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if kind == "insert":
            for h in hyps:
                yield kind, None, h
        elif kind == "delete":
            for r in refs:
                yield kind, r, None
        else:  # equal / substitute chunks pair words one to one
            yield from ((kind, r, h) for r, h in zip(refs, hyps, strict=True))


def _trivial(ref: list[str], hyp: list[str]) -> list[tuple[str, str | None, str | None]]:
    """The alignment when one side is empty (jiwer rejects an empty reference)."""
    return [("insert", None, w) for w in hyp] if not ref else [("delete", w, None) for w in ref]


def _ops(reference_norm: str, hypothesis_norm: str) -> Iterator[tuple[str, str | None, str | None]]:
    import jiwer

    ref = (reference_norm or "").split()
    hyp = (hypothesis_norm or "").split()
    if not ref or not hyp:
        return iter(_trivial(ref, hyp))
    return _walk(jiwer.process_words(" ".join(ref), " ".join(hyp)), 0, errors_only=False)


def align(reference_norm: str, hypothesis_norm: str) -> list[WordOp]:
    """Word operations turning the (normalized) reference into the (normalized) hypothesis.

    Words are split on whitespace. An empty reference gives only insertions, an empty
    hypothesis only deletions, both empty nothing.
    """
    return [WordOp(*o) for o in _ops(reference_norm, hypothesis_norm)]


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
_BATCH = 1000  # rows aligned per jiwer call


def confusions(rows: Iterable[tuple[str, str | None, str | None]]) -> Counter[ConfusionKey]:
    """Count confusion pairs over ``(model, reference_norm, hypothesis_norm)`` rows: keys are
    ``(model, op, ref_word, hyp_word)`` with op ``substitute``, ``delete`` (hyp_word None) or
    ``insert`` (ref_word None). Correct words are not counted. None text counts as empty."""
    import jiwer

    counts: Counter[ConfusionKey] = Counter()
    batch: list[tuple[str, str, str]] = []

    def flush() -> None:  # one jiwer call per batch: its per-call overhead dominates short rows
        if batch:
            out = jiwer.process_words([r for _, r, _ in batch], [h for _, _, h in batch])
            for k, (model, _, _) in enumerate(batch):
                counts.update((model, *o) for o in _walk(out, k, errors_only=True))
            batch.clear()

    for model, ref, hyp in rows:
        ref_words, hyp_words = (ref or "").split(), (hyp or "").split()
        if ref_words and hyp_words:
            batch.append((model, " ".join(ref_words), " ".join(hyp_words)))
            if len(batch) >= _BATCH:
                flush()
        else:
            counts.update((model, *o) for o in _trivial(ref_words, hyp_words))
    flush()
    return counts
