"""Models in ONNX Runtime: the embedder computes what sentence-transformers computes, a kept
model is reused, a damaged or unkeepable one costs only an export, and a process that finds
both models kept imports neither torch nor transformers."""

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from index.search.embedding import Embedder
from index.search.onnxcache import Runtime
from index.settings import Settings

TEXTS = [
    "Venezuela said it would leave the Organization of American States.",
    "  Delcy Rodríguez walked out of the meeting in Cancún.  ",
    "",
    "The 34-nation group " * 120,  # past the model's 256 tokens: cut as sentence-transformers does
]


@pytest.mark.torch
def test_the_embedder_computes_what_sentence_transformers_computes(
    embedder: Embedder, settings: Settings
) -> None:
    from sentence_transformers import SentenceTransformer  # torch: the reference only

    reference = SentenceTransformer(settings.model, device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(embedder.encode(TEXTS) - expected).max() < 1e-5
    assert embedder.max_tokens == reference.max_seq_length - 2
    for text in TEXTS:
        pieces = reference.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        assert embedder.count_tokens(text) == len(pieces)


exported: list[int] = []  # one entry per export


def add_one() -> bytes:
    """A model that adds one to its input: exported in no time, without torch."""
    exported.append(1)
    tokens = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["rows", "tokens"])
    out = helper.make_tensor_value_info("out", TensorProto.INT64, ["rows", "tokens"])
    one = helper.make_tensor("one", TensorProto.INT64, [], [1])
    graph = helper.make_graph(
        [helper.make_node("Add", ["input_ids", "one"], ["out"])], "add", [tokens], [out], [one]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def run(session) -> list[int]:
    return session.run(None, {"input_ids": np.array([[1, 2]], dtype=np.int64)})[0][0].tolist()


def test_a_kept_model_is_reused_and_a_damaged_one_exported_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exported.clear()
    runtime = Runtime(tmp_path / "cache", threads=1)
    assert run(runtime.session("add", "k1", add_one)) == [2, 3]
    [kept] = (tmp_path / "cache").iterdir()
    assert kept.name == "add-k1.onnx" and len(exported) == 1
    assert run(runtime.session("add", "k1", add_one)) == [2, 3]
    assert len(exported) == 1  # found, not exported
    assert run(runtime.session("add", "k2", add_one)) == [2, 3]
    assert len(exported) == 2  # another key (new weights): exported
    kept.write_bytes(kept.read_bytes()[:50])
    with caplog.at_level(logging.WARNING):
        assert run(runtime.session("add", "k1", add_one)) == [2, 3]
    assert len(exported) == 3 and "damaged" in caplog.text
    assert run(runtime.session("add", "k1", add_one)) == [2, 3]
    assert len(exported) == 3  # the damaged file was replaced
    assert not list((tmp_path / "cache").glob("*.part"))


def test_a_cache_that_cannot_be_written_costs_only_the_export(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        assert run(Runtime(taken / "cache").session("add", "k", add_one)) == [2, 3]
    assert "NEWSDESK_MODEL_CACHE" in caplog.text


def test_a_process_that_finds_both_models_kept_imports_neither_torch_nor_transformers(
    embedder: Embedder, seed_index: Path
) -> None:
    """The whole answer, as the bot and the CLI give it (spaCy's stop words once brought
    torch in through thinc)."""
    from index.reader.model import default_reader

    default_reader()  # kept by now, as the embedder is
    script = (
        "import sys\n"
        "from index.answer.answerer import Answerer\n"
        "from index.search.embedding import Embedder\n"
        "from index.search.retriever import Retriever\n"
        "from index.settings import Settings\n"
        "embedder = Embedder.from_settings(Settings.from_env(env_file=None))\n"
        "answer = Answerer(Retriever.open(sys.argv[1], embedder)).ask('Who walked out?')\n"
        "print(answer.text)\n"
        "print(sorted({'torch', 'transformers', 'spacy'} & set(sys.modules)))\n"
    )
    command = [sys.executable, "-c", script, str(seed_index)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Delcy Rodriguez", "[]"]
