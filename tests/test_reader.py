"""The shipped readers (large and small): committed weights, spans per question type, the seam,
a damaged file. Training and the export checked against torch: test_reader_training.py."""

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.answer.answerer import Answerer, read_first
from index.answer.metrics import token_f1
from index.answer.policy import READING, AnswerPolicy
from index.answer.records import Found
from index.answer.sentences import Candidate, Considered, Reading
from index.reader import SHIPPED, FoundSpan, ReaderOutput, ReaderWeightsError
from index.reader.model import TrainedReader, default_reader, reader_input
from index.search.onnxcache import file_digest
from index.search.retriever import Passage, Retriever
from index.settings import READERS


@pytest.fixture(params=READERS, scope="module")
def reader(request: pytest.FixtureRequest) -> TrainedReader:
    """Each shipped reader, as ``NEWSDESK_READER`` chooses it."""
    return default_reader(SHIPPED[request.param])


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        (
            "Who chaired the hearing?",
            "The hearing, chaired by Senator Maria Lopez, lasted four hours in Boston.",
            "Maria Lopez",
        ),
        (
            "How many workers lost their jobs?",
            "The plant opened in 1998 and 340 workers lost their jobs when it closed.",
            "340",
        ),
        (
            "Where did the summit take place?",
            "Leaders of nine countries met at the summit in Nairobi on Friday.",
            "Nairobi",
        ),
        (
            "When did the bridge reopen?",
            "The bridge, damaged by floods, reopened on 3 March 2021 after repairs.",
            "3 March 2021",
        ),
        (
            "What did the mayor say about the budget?",
            "Asked about the budget, the mayor said: “We will not cut a single teacher.”",
            "We will not cut a single teacher.",
        ),
        (
            "Who is John Sullivan?",
            "The outburst came as US Deputy Secretary of State John Sullivan tried to help.",
            "US Deputy Secretary of State",
        ),
        (
            "When did Luther's writings reach Italy?",
            "Luther's writings circulated widely, reaching France, England, and Italy as early "
            "as 1519.",
            "1519",
        ),
        (
            "When does immunodeficiency occur?",
            "Immunodeficiency occurs when the immune system is less active than normal, "
            "resulting in recurring and life-threatening infections.",
            "when the immune system is less active than normal",
        ),
        (
            "What percentage of its efficiency does the engine reach?",
            "The efficiency of Energiprojekt's steam engine reaches some 27-30% on high-pressure "
            "engines.",
            "27-30%",
        ),
        (
            "What did the union dare the council to do?",
            "The union challenged the council “to put it to a vote” and walked out.",
            "put it to a vote",
        ),
        (
            "How many votes does the council need?",
            "The motion won 12 votes, short of the 15 votes the council needs to pass it.",
            "15",
        ),
        (  # a name the question already gives is not the answer
            "Who did Delcy Rodriguez argue with?",
            "Delcy Rodriguez argued with John Sullivan before she left the room.",
            "John Sullivan",
        ),
    ],
)
def test_the_span_answers_the_question(
    reader: TrainedReader, question: str, sentence: str, expected: str
) -> None:
    [best, *_] = reader.read(question, [sentence]).spans
    # Or close by SQuAD's token F1: "Deputy Secretary of State" (0.89) for "US Deputy
    # Secretary of State", "We will not cut a single teacher" without its full stop.
    within = expected in best.text and len(best.text.split()) <= len(expected.split()) + 2
    assert within or token_f1(best.text, [expected]) >= 0.8, best.text
    assert sentence[best.start : best.end] == best.text


def test_the_answering_sentence_wins_among_others(reader: TrainedReader) -> None:
    sentences = [
        "The council met on Tuesday in the old town hall.",
        "Rain delayed the start of the meeting by an hour.",
        "The mayor, Ana Souza, announced that the harbour would reopen in May.",
        "Fishermen welcomed the news.",
    ]
    read = reader.read("Who announced that the harbour would reopen?", sentences)
    assert read.spans[0].sentence == 2 and "Ana Souza" in read.spans[0].text
    assert read.of(2)[0] is read.spans[0]
    assert read.no_answer < read.spans[0].probability


def test_no_answer_wins_where_no_sentence_answers(reader: TrainedReader) -> None:
    sentences = ["The council met on Tuesday.", "Rain delayed the start of the meeting."]
    read = reader.read("Who won the football World Cup final?", sentences)
    assert read.no_answer > max(s.probability for s in read.spans)


@settings(max_examples=25, deadline=None)
@given(
    question=st.text(min_size=1, max_size=80),
    sentences=st.lists(st.text(min_size=1, max_size=200), min_size=1, max_size=4),
)
def test_every_span_is_a_verbatim_substring_of_its_sentence(
    question: str, sentences: list[str]
) -> None:
    read = default_reader().read(question, sentences)
    for span in read.spans:
        assert sentences[span.sentence][span.start : span.end] == span.text
    assert 0.0 <= read.no_answer <= 1.0


def test_sentences_that_do_not_fit_are_left_out_by_priority_and_kept_in_order() -> None:
    reader = default_reader()
    sentences = ["The mayor spoke first. " * 5, "Ana Souza reopened the bridge.", "It rained."]
    read = reader_input(reader.tokenizer, "Who reopened it?", sentences, 40, priority=[1, 2, 0])
    assert sorted(set(read.sentence) - {-1}) == [1, 2], "the long first one did not fit"
    tokens = [n for n in read.sentence if n >= 0]
    assert tokens == sorted(tokens), "laid out in the order given"
    narrow = TrainedReader(max_length=40)
    found = narrow.read("Who reopened the bridge?", sentences, priority=[1, 2, 0])
    assert found.spans[0].sentence == 1 and found.of(0) == []


def test_a_huge_question_still_leaves_room_for_the_sentences(reader: TrainedReader) -> None:
    read = reader.read("who " * 3000 + "reopened the bridge?", ["Ana Souza did."])
    assert read.spans and read.spans[0].text in "Ana Souza did."


def test_each_sentence_read_on_its_own_in_one_batch_reads_as_alone(reader: TrainedReader) -> None:
    """``read_each`` pads several inputs into one pass: each answers as its own pass does,
    and its "no answer" is its own (other reports are judged by it)."""
    sentences = ["Mayor Ana Souza cut the ribbon.", "It rained all day in Quillborough town."]
    for sentence, each in zip(
        sentences, reader.read_each("Who cut the ribbon?", sentences), strict=True
    ):
        alone = reader.read("Who cut the ribbon?", [sentence])
        # The large reader's int8 activations are scaled over the whole batch (ONNX Runtime's
        # dynamic quantization): padded, its probabilities move a little (1.5 points here).
        assert each.spans[0].text == alone.spans[0].text
        assert each.spans[0].probability == pytest.approx(alone.spans[0].probability, abs=0.02)
        assert each.no_answer == pytest.approx(alone.no_answer, abs=0.02)
    souza, rain = reader.read_each("Who cut the ribbon?", sentences)
    assert souza.spans[0].text.endswith("Ana Souza") and rain.no_answer > 0.5
    assert reader.read_each("Who?", []) == []


def test_each_sentence_gives_its_few_best_spans_that_do_not_overlap(
    reader: TrainedReader,
) -> None:
    read = reader.read(
        "How many votes were needed?", ["The resolution fell three votes shy of the 23 it needed."]
    )
    assert 1 < len(read.spans) <= 3
    for a in read.spans:
        for b in read.spans:
            assert a is b or a.end <= b.start or b.end <= a.start, (a, b)
    assert read.of(0) == read.spans


class FakeReader:
    """Answers with the last word of the sentence that holds the word 'answer'."""

    def read(
        self, question: str, sentences: list[str], priority: list[int] | None = None
    ) -> ReaderOutput:
        spans = [
            FoundSpan(i, s.rfind(" ") + 1, len(s), s[s.rfind(" ") + 1 :], 0.9)
            for i, s in enumerate(sentences)
            if "answer" in s.lower()
        ]
        return ReaderOutput(spans, 0.1)

    def read_each(self, question: str, sentences: list[str]) -> list[ReaderOutput]:
        return [self.read(question, [s]) for s in sentences]


def test_the_answerer_takes_any_reader(seed_index: Path, embedder) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder), reader=FakeReader())
    answer = answerer.ask("Who walked out of the meeting?")
    assert not answer.covered, "no sentence holds 'answer': the fake found nothing"
    assert answer.passages


def test_missing_or_damaged_weights_are_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ReaderWeightsError, match="missing.*git checkout"):
        TrainedReader(tmp_path / "nothing.safetensors")
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(SHIPPED["small"].read_bytes()[:1_000_000])
    with pytest.raises(ReaderWeightsError, match="damaged.*python -m index.training.reader train"):
        TrainedReader(damaged)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(ReaderWeightsError, match="damaged"):
        TrainedReader(garbage)


def test_the_passages_shown_are_ranked_by_reading() -> None:
    """The answer's passage first, then those where the reader found another likely answer,
    then the rest as search ranked them, however search ranked the first two."""
    passages = [
        Passage(n, n, 1.0 / n, 0.5, f"passage {n}", f"a{n}", "T", "S", None, 0, 9, n, 1)
        for n in range(1, 7)
    ]

    def candidate(rank: int, probability: float) -> Candidate:
        reading = Reading(passages[rank - 1], rank, f"passage {rank}", 0.5, 0.5)
        return Candidate(reading, FoundSpan(0, 0, 7, "passage", probability), probability)

    read = [candidate(5, 0.6), candidate(4, 0.3), candidate(2, 0.001)]
    found = Found(passages, Considered([c.reading for c in read], read, 0.1), [], ())
    shown = read_first(found, AnswerPolicy(), k=5)
    assert [p.rank for p in shown] == [5, 4, 1, 2, 3], "2's answer is too unlikely to lead"


def test_each_reader_answers_with_its_own_reading_and_calibration(
    seed_index: Path, embedder, settings
) -> None:
    for name in READERS:
        answerer = Answerer.from_settings(
            Retriever.open(seed_index, embedder), replace(settings, reader=name)
        )
        assert answerer.policy.sentences_read == READING[name]["sentences_read"]
        assert answerer.calibration.reader == file_digest(SHIPPED[name])[:16]
        assert answerer.ask("Who walked out of the meeting?").text == "Delcy Rodriguez"
