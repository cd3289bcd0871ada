"""Error analysis: word alignment, its sclite-style rendering, confusion pairs (in Python, in the
word_errors table and its view), and the `evaluator errors` / `evaluator show` commands."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evaluator.cli import main
from evaluator.results.store import Store, connect_read_only
from evaluator.scoring.alignment import WordOp, align, confusions, count_ops, render, run_confusions
from evaluator.scoring.metrics import score
from tests.factories import create_run, result_row

E, S, D, I = "equal", "substitute", "delete", "insert"  # noqa: E741

# ------------------------------------------------------------------------------- alignment

ALIGN_CASES = [
    # (reference_norm, hypothesis_norm, expected operations)
    ("", "", []),
    ("   ", " ", []),
    ("", "hello there", [(I, None, "hello"), (I, None, "there")]),
    ("hello there", "", [(D, "hello", None), (D, "there", None)]),
    ("a b c", "a b c", [(E, "a", "a"), (E, "b", "b"), (E, "c", "c")]),
    ("the cat sat", "the bat sat", [(E, "the", "the"), (S, "cat", "bat"), (E, "sat", "sat")]),
    ("one two three four", "one three four", [(E, "one", "one"), (D, "two", None), (E, "three", "three"),
                                              (E, "four", "four")]),
    ("go home", "go home now", [(E, "go", "go"), (E, "home", "home"), (I, None, "now")]),
    ("their car", "there car", [(S, "their", "there"), (E, "car", "car")]),
    ("a  b", "a   b", [(E, "a", "a"), (E, "b", "b")]),  # any whitespace separates words
    ("x", "y", [(S, "x", "y")]),
]


@pytest.mark.parametrize(("ref", "hyp", "expected"), ALIGN_CASES)
def test_align(ref: str, hyp: str, expected: list[tuple[str, str | None, str | None]]) -> None:
    ops = align(ref, hyp)
    assert ops == [WordOp(*e) for e in expected]
    # the reference and hypothesis can be read back from the alignment
    assert [o.ref for o in ops if o.ref is not None] == ref.split()
    assert [o.hyp for o in ops if o.hyp is not None] == hyp.split()


RAW_PAIRS = [
    ("", ""),
    ("Hello world.", ""),
    ("", "Thank you."),
    ("Mr. Smith paid $20 for it.", "Mister Smith paid twenty dollars for it"),
    ("It was the best of times, it was the worst of times.", "It was the best of times it was worst of times"),
    ("Their car is over there.", "There car is over their!"),
    ("Um, I think so.", "I think so, yes."),
]


def _perturbed_pairs(n: int, seed: int = 3) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    vocab = "the a cat dog sat on mat their there is was of to and in big small red".split()
    pairs = []
    for _ in range(n):
        ref = [rng.choice(vocab) for _ in range(rng.randint(0, 15))]
        hyp = []
        for w in ref:
            r = rng.random()
            if r < 0.1:
                continue  # deleted
            hyp.append(rng.choice(vocab) if r < 0.25 else w)
            if rng.random() < 0.1:
                hyp.append(rng.choice(vocab))  # inserted
        pairs.append((" ".join(ref), " ".join(hyp)))
    return pairs


@pytest.mark.parametrize(("ref", "hyp"), RAW_PAIRS + _perturbed_pairs(150))
def test_counts_equal_metrics_score(ref: str, hyp: str) -> None:
    s = score(ref, hyp)
    c = count_ops(align(s.reference_norm, s.hypothesis_norm))
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (s.hits, s.substitutions, s.deletions,
                                                                   s.insertions)
    assert c.ref_words == s.ref_words
    assert c.wer == s.wer


def test_count_ops_of_nothing() -> None:
    c = count_ops([])
    assert (c.hits, c.substitutions, c.deletions, c.insertions, c.errors, c.wer) == (0, 0, 0, 0, 0, None)


# ------------------------------------------------------------------------------- rendering


def _lines(text: str) -> dict[str, str]:
    return {line.split(":", 1)[0]: line for line in text.splitlines()}


def test_render_marks_errors_sclite_style() -> None:
    ops = align("the cat sat on the mat", "the bat sat the mat now")
    lines = _lines(render(ops))
    assert lines["REF"].split()[1:] == ["the", "CAT", "sat", "ON", "the", "mat", "***"]
    assert lines["HYP"].split()[1:] == ["the", "BAT", "sat", "***", "the", "mat", "NOW"]
    assert lines["Eval"].split()[1:] == ["S", "D", "I"]
    # columns line up: each word starts where its counterpart does
    ref, hyp, ev = lines["REF"], lines["HYP"], lines["Eval"]
    for word_ref, word_hyp in (("CAT", "BAT"), ("ON", "***"), ("***", "NOW")):
        assert ref.index(word_ref) == hyp.index(word_hyp)
    assert ev.index("S") == ref.index("CAT") and ev.index("D") == ref.index("ON")


@pytest.mark.parametrize(("ref", "hyp", "expected_ref", "expected_hyp"), [
    ("", "", "", ""),
    ("", "uh huh", "*** ***", "UH HUH"),
    ("yes", "", "YES", "***"),
    ("a", "a", "a", "a"),
])
def test_render_small_cases(ref: str, hyp: str, expected_ref: str, expected_hyp: str) -> None:
    lines = _lines(render(align(ref, hyp), eval_line=False))
    assert set(lines) == {"REF", "HYP"}
    assert lines["REF"].split(":", 1)[1].split() == expected_ref.split()
    assert lines["HYP"].split(":", 1)[1].split() == expected_hyp.split()


def test_render_wraps_long_alignments() -> None:
    ref = " ".join(f"word{i}" for i in range(80))
    hyp = " ".join(f"word{i}" if i % 7 else f"other{i}" for i in range(80))
    text = render(align(ref, hyp), width=60, labels=("REF", "HYP"))
    assert all(len(line) <= 60 for line in text.splitlines())
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    ref_words = [w for b in blocks for w in b.splitlines()[0].split()[1:]]
    assert [w.lower() for w in ref_words] == ref.split()
    with pytest.raises(ValueError, match="width"):
        render([], width=5)


# ------------------------------------------------------------------------------- confusions

CONFUSION_CASES = [
    ([], {}),
    ([("m", "", "")], {}),
    ([("m", None, None)], {}),
    ([("m", "a b", "a b")], {}),
    ([("m", "their car", "there car"), ("m", "their dog", "there dog"), ("n", "their", "their")],
     {("m", S, "their", "there"): 2}),
    ([("m", "a b c", "a c"), ("m", "", "hi"), ("m", "x", None)],
     {("m", D, "b", None): 1, ("m", I, None, "hi"): 1, ("m", D, "x", None): 1}),
    ([("m", "go", "go now"), ("n", "go", "go now")], {("m", I, None, "now"): 1, ("n", I, None, "now"): 1}),
]


@pytest.mark.parametrize(("rows", "expected"), CONFUSION_CASES)
def test_confusions(rows: list[tuple[str, str | None, str | None]], expected: dict[Any, int]) -> None:
    assert confusions(rows) == Counter(expected)


# ------------------------------------------------------------------------------- database

RUN, NAME = "20261128-000000-test", "unit"
SAMPLES = [
    # (sample_id, reference, {model: hypothesis or an exception text})
    ("s0", "Their car is red.", {"a:one": "There car is red.", "b:two": "Their car is red."}),
    ("s1", "She packed a small bag.", {"a:one": "She packed small bag.", "b:two": "She packed a small bag too."}),
    ("s2", "Go home now.", {"a:one": "Go home now.", "b:two": "Go hum now."}),
    ("s3", "", {"a:one": "Thank you.", "b:two": ""}),
    ("s4", "Their dog barks.", {"a:one": "There dog barks.", "b:two": Exception("decoder crashed")}),
]


def _row(run_id: str, model: str, index: int, sample_id: str, reference: str, hyp: Any) -> dict[str, Any]:
    error = str(hyp) if isinstance(hyp, Exception) else None
    return result_row(run_id, model, sample_id, reference, None if error else hyp, dataset="unit", index=index,
                      inference_seconds=0.1, error=error, decode_seconds=0.01, device="cpu", worker="w0")


def _build(db: str, *, write: bool) -> None:
    with Store(db) as store:
        create_run(store, RUN, NAME)
        store.insert_results([_row(RUN, m, i, sid, ref, hyp) for i, (sid, ref, hyps) in enumerate(SAMPLES)
                              for m, hyp in hyps.items()])
        if write:
            store.write_word_errors(RUN)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "results.duckdb")
    _build(path, write=True)
    return path


def _table(db: str, run_id: str = RUN) -> Counter[Any]:
    con = connect_read_only(db)
    try:
        rows = con.execute("SELECT model, op, ref_word, hyp_word, count FROM word_errors WHERE run_id = ?",
                           [run_id]).fetchall()
    finally:
        con.close()
    return Counter({(m, op, r, h): n for m, op, r, h, n in rows})


def test_word_errors_table_holds_the_runs_pairs(db: str) -> None:
    table = _table(db)
    assert table == Counter({
        ("a:one", S, "their", "there"): 2, ("a:one", D, "a", None): 1, ("a:one", I, None, "thank"): 1,
        ("a:one", I, None, "you"): 1, ("b:two", I, None, "too"): 1, ("b:two", S, "home", "hum"): 1,
    })
    # the pairs add up to the stored counts of the error-free rows
    con = connect_read_only(db)
    stored = con.execute("SELECT model, sum(substitutions), sum(deletions), sum(insertions) FROM results "
                         "WHERE run_id = ? AND error IS NULL GROUP BY model", [RUN]).fetchall()
    for model, subs, dels, ins in stored:
        assert [sum(n for k, n in table.items() if k[0] == model and k[1] == op) for op in (S, D, I)] == [
            subs, dels, ins]
    # the view ranks them per model
    top = con.execute("SELECT model, rank, op_rank, op, ref_word, hyp_word, count, share FROM top_confusions "
                      "WHERE run_id = ? AND rank = 1 ORDER BY model", [RUN]).fetchall()
    con.close()
    assert top[0][:7] == ("a:one", 1, 1, S, "their", "there", 2)
    assert top[0][7] == pytest.approx(2 / 5)


def test_write_word_errors_replaces_and_keeps_other_runs(db: str) -> None:
    with Store(db) as store:
        other = "20261128-000001-other"
        create_run(store, other, None)
        store.insert_results([_row(other, "a:one", 0, "s0", "one two", "one three")])
        assert store.write_word_errors(other) == 1
        before = _counts(store)
        assert store.write_word_errors(RUN) == len(_table_from(store, RUN))  # rewritten, not doubled
        assert _counts(store) == before
        assert store.write_word_errors("no-such-run") == 0


def _table_from(store: Store, run_id: str) -> list[tuple]:
    return store.query("SELECT * FROM word_errors WHERE run_id = ?", [run_id])[1]


def _counts(store: Store) -> list[tuple]:
    return store.query("SELECT run_id, model, op, ref_word, hyp_word, count FROM word_errors ORDER BY ALL")[1]


def test_run_confusions_matches_the_table(db: str) -> None:
    con = connect_read_only(db)
    assert run_confusions(con, RUN) == _table(db)
    assert run_confusions(con, RUN, "b:two") == Counter({k: n for k, n in _table(db).items() if k[0] == "b:two"})
    assert run_confusions(con, "no-such-run") == Counter()
    con.close()


# ------------------------------------------------------------------------------- CLI


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_errors_command(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _cli_json(capsys, "errors", "--db", db, "--format", "json")
    assert {r["model"] for r in rows} == {"a:one", "b:two"}
    first = rows[0]
    assert (first["model"], first["rank"], first["op"], first["ref_word"], first["hyp_word"], first["count"]) == (
        "a:one", 1, S, "their", "there", 2)
    assert sum(r["count"] for r in rows) == sum(_table(db).values())

    top1 = _cli_json(capsys, "errors", "--db", db, "--run", NAME, "--top", "1", "--format", "json")
    assert [(r["model"], r["rank"]) for r in top1] == [("a:one", 1), ("b:two", 1)]

    inserts = _cli_json(capsys, "errors", "--db", db, "--run", RUN, "--op", "insert", "--model", "a:one",
                        "--format", "json")
    assert {(r["ref_word"], r["hyp_word"]) for r in inserts} == {(None, "thank"), (None, "you")}
    assert sum(r["share_%"] for r in inserts) == pytest.approx(100)

    assert main(["errors", "--db", db]) == 0
    table = " ".join(capsys.readouterr().out.split())  # the title may wrap
    assert "their" in table and "there" in table and "word_errors table" in table


def test_errors_computed_when_the_table_has_no_rows(tmp_path: Path, db: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    expected = _cli_json(capsys, "errors", "--db", db, "--format", "json")
    fresh = str(tmp_path / "unwritten.duckdb")
    _build(fresh, write=False)
    assert _cli_json(capsys, "errors", "--db", fresh, "--format", "json") == expected
    # a database made before the word_errors table existed
    with Store(fresh) as store:
        store.con.execute("DROP VIEW top_confusions")
        store.con.execute("DROP TABLE word_errors")
    assert _cli_json(capsys, "errors", "--db", fresh, "--format", "json") == expected
    assert main(["errors", "--db", fresh]) == 0
    assert "computed from stored text" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("argv", "message"), [
    (["errors", "--model", "c:three"], "model 'c:three' has no results in run 20261128-000000-test; "
                                       "valid: a:one, b:two"),
    (["errors", "--top", "0"], "--top must be at least 1"),
    (["errors", "--run", "nope"], "no run 'nope'"),
    (["show", "--sample", "s9"], "sample 's9' is not in run 20261128-000000-test, which has 5 samples "
                                 "(ids: s0, s1, s2, s3, s4)"),
    (["show", "--sample", "s0", "--model", "zz"], "valid: a:one, b:two"),
])
def test_usage_errors_name_the_valid_choices(db: str, argv: list[str], message: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    assert main([*argv, "--db", db]) == 2
    assert message in caplog.text


def test_errors_on_an_empty_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "empty.duckdb")
    Store(path).close()
    assert main(["errors", "--db", path]) == 2
    assert "holds no runs yet" in caplog.text


def test_show_command(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", db, "--sample", "s1"]) == 0
    out = capsys.readouterr().out
    assert "reference: She packed a small bag." in out
    a, b = out.split("== a:one")[1].split("== b:two")
    assert "hits 4, substitutions 0, deletions 1, insertions 0; WER 20.00% (1/5)" in a
    assert _lines(a)["REF"].split()[1:] == ["she", "packed", "A", "small", "bag"]
    assert _lines(a)["HYP"].split()[1:] == ["she", "packed", "***", "small", "bag"]
    assert "hits 5, substitutions 0, deletions 0, insertions 1; WER 20.00% (1/5)" in b
    assert _lines(b)["HYP"].split()[-1] == "TOO"
    assert "warning" not in out

    assert main(["show", "--db", db, "--sample", "s4"]) == 0
    out = capsys.readouterr().out
    assert "error: decoder crashed" in out.split("== b:two")[1]

    assert main(["show", "--db", db, "--sample", "s3"]) == 0  # empty reference
    assert "WER n/a (empty reference)" in capsys.readouterr().out


def test_show_json_counts_equal_stored(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    con = connect_read_only(db)
    stored = {(sid, m): (h, s, d, i) for sid, m, h, s, d, i in con.execute(
        "SELECT sample_id, model, hits, substitutions, deletions, insertions FROM results WHERE error IS NULL"
    ).fetchall()}
    con.close()
    for sample_id, _, _ in SAMPLES:
        view = _cli_json(capsys, "show", "--db", db, "--sample", sample_id, "--format", "json")
        for m in view["models"]:
            if m["error"] is None:
                ops = [WordOp(**o) for o in m["ops"]]
                c = count_ops(ops)
                assert (c.hits, c.substitutions, c.deletions, c.insertions) == stored[(sample_id, m["model"])]
                assert " ".join(o.ref for o in ops if o.ref) == view["reference_norm"]
            else:
                assert m["ops"] == [] and m["wer"] is None


def test_confusions_over_many_rows_equal_the_sum_of_single_rows() -> None:
    """Thousands of rows (aligned in batches) count the same as each row on its own."""
    pairs = _perturbed_pairs(2500, seed=11) + [("", "x y"), ("x y", ""), ("", "")]
    rows = [(f"m{i % 3}", ref, hyp) for i, (ref, hyp) in enumerate(pairs)]
    expected: Counter[Any] = Counter()
    for row in rows:
        expected.update(confusions([row]))
    assert confusions(rows) == expected
    assert confusions(iter(rows)) == expected  # any iterable, read once
    for model, ref, hyp in rows[:300]:
        single = Counter((model, o.op, o.ref, o.hyp) for o in align(ref, hyp) if o.op != E)
        assert confusions([(model, ref, hyp)]) == single


def test_show_leaves_long_raw_text_to_the_alignment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "long.duckdb")
    reference = " ".join(f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(300))  # wa..., no digits
    with Store(path) as store:
        create_run(store, RUN, NAME)
        store.insert_results([_row(RUN, "a:one", 0, "long", reference, reference.replace(" wah ", " "))])
    assert main(["show", "--db", path, "--sample", "long", "--width", "80"]) == 0
    out = capsys.readouterr().out
    assert f"reference: ({len(reference):,} characters; --format json prints them)" in out
    assert all(len(line) <= 80 for line in out.splitlines()[1:])
    ref_words = [w for line in out.splitlines() if line.startswith("REF:") for w in line.split()[1:]]
    assert [w.lower() for w in ref_words] == reference.split()
    assert "deletions 1," in out
