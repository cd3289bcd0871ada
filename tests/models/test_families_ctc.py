"""CTC families through the actor, as a run calls them: the transcript equals the model card's
recipe on the same tiny weights and audio, and batched output equals one-at-a-time output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_audiofolder
from tests.tiny_families import CTC_BUILDERS, built, recipe

pytestmark = pytest.mark.slow

CLIPS = 4  # bundled sample clips of 3-7 s (the 44 s one is long-form, planned rather than transcribed)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny_families"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, sample_rows) -> tuple[Path, list]:
    from evaluator.data.audio import decode_audio

    rows = [row for row in sample_rows if row["id"] != "human-two-cities"][:CLIPS]
    folder = make_audiofolder(tmp_path_factory.mktemp("clips"), rows)
    return folder, [decode_audio(str(folder / row["file_name"])) for row in rows]


def run_worker(model: Path, folder: Path, batch_size: int) -> dict[str, object]:
    """Rows of one shard of the clips through :class:`evaluator.run.execute.actor.Worker`."""
    from evaluator.data.columns import ROW_INDEX
    from evaluator.data.shards import Shard
    from evaluator.data.spec import DatasetSpec
    from evaluator.data.windows import LongForm
    from evaluator.models.spec import parse_model_spec
    from evaluator.run.execute.actor import Worker

    spec = DatasetSpec(source=str(folder), id_column=ROW_INDEX, audio_column="audio", text_column="transcription")
    worker = Worker(parse_model_spec(f"transformers:{model}?batch_size={batch_size}"), "cpu", 1, None,
                    LongForm("chunked", 30.0, 1.0))
    out = worker.run_shard(Shard(spec, 0, start=0, stop=CLIPS))
    assert worker.info()["options"]["batch_size"] == batch_size
    return {row.sample_id: row for row in out.rows}


@pytest.mark.parametrize("name", sorted(CTC_BUILDERS))
def test_ctc_family_matches_the_recipe_batched_and_alone(name: str, tiny_root: Path, clips) -> None:
    folder, audios = clips
    model = built(tiny_root, name)
    batched = run_worker(model, folder, batch_size=4)
    alone = run_worker(model, folder, batch_size=1)
    expected = [recipe(model, audio) for audio in audios]
    assert [batched[str(i)].error for i in range(CLIPS)] == [None] * CLIPS
    assert [batched[str(i)].hypothesis for i in range(CLIPS)] == expected
    assert [alone[str(i)].hypothesis for i in range(CLIPS)] == expected
    assert sum(bool(text) for text in expected) >= CLIPS - 1  # not an empty-output model


def test_ctc_backend_reports_family_warning_and_padding(tiny_root: Path) -> None:
    from evaluator.models.backends import get_backend

    base = built(tiny_root, "wav2vec2-base")  # no attention mask: padding would change answers
    lv60 = built(tiny_root, "wav2vec2-lv60")
    backends = [get_backend("transformers").for_model(str(m), {})(str(m), "cpu", {}, 1) for m in (base, lv60)]
    assert [b.adapter.pads_safely for b in backends] == [False, True]
    assert all("names no language" in " ".join(b.warnings) for b in backends)
    assert backends[0].compute_type_used == "float32"


def test_ctc_repeats_around_a_special_token_stay_two_letters(tmp_path: Path) -> None:
    """``z <s> z`` decodes as the model cards' ``batch_decode(ids)`` merges it: two letters (the
    ``<s>`` text then removed), where skipping special tokens first would merge them into one."""
    from evaluator.models.families.ctc import without_special_tokens
    from tests.tiny_families import _w2v_processor

    tokenizer = _w2v_processor(tmp_path / "w2v", attention_mask=True).tokenizer
    z, bos, pad, bar = (tokenizer.convert_tokens_to_ids(t) for t in ("z", "<s>", "<pad>", "|"))
    ids = [z, z, bos, z, pad, bar, z, pad, z]
    assert tokenizer.decode(ids) == "z<s>z zz"  # the blank between the last two keeps them apart
    assert tokenizer.decode(ids, skip_special_tokens=True) == "z z"  # blanks and <s> gone before the merge
    assert without_special_tokens(tokenizer.decode(ids), tokenizer) == "zz zz"
