from index.ingest.articles import make_article
from index.ingest.chunking import Chunker, split_sentences

from .conftest import SEEDS


def words(text: str) -> int:
    return len(text.split())


def test_sentences_are_exact_spans_grouped_by_paragraph() -> None:
    text = "Mr. Smith arrived at 9 a.m. on Monday. He left.\n\nA new paragraph starts here."
    grouped = split_sentences(text)
    assert [[text[s:e] for s, e in group] for group in grouped] == [
        ["Mr. Smith arrived at 9 a.m. on Monday.", "He left."],
        ["A new paragraph starts here."],
    ]


def test_passages_fit_the_budget_overlap_by_a_sentence_and_quote_exactly() -> None:
    sentences = [f"Sentence number {i} says something about the vote count." for i in range(12)]
    article = make_article("a.txt", " ".join(sentences), title="T")
    chunks = Chunker(words, max_tokens=30).chunk(article)
    assert len(chunks) > 3
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert words(chunk.text) <= 30
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.sentences[-1] == after.sentences[0]
    covered = {span for chunk in chunks for span in chunk.sentences}
    assert len(covered) == 12


def test_an_over_long_sentence_is_cut_at_words_not_truncated() -> None:
    article = make_article("long.txt", " ".join(f"word{i}" for i in range(100)) + ".")
    chunks = Chunker(words, max_tokens=20).chunk(article)
    assert all(words(c.text) <= 20 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == article.text.split()


def test_seed_passages_fit_the_model_window(embedder) -> None:
    article = make_article(
        "seed.txt", (SEEDS / "venezuela-dares-us-to-send-in-the-marines.txt").read_text()
    )
    chunks = Chunker(embedder.count_tokens, max_tokens=60).chunk(article)
    assert all(embedder.count_tokens(c.text) <= 60 for c in chunks)
    assert any("stormed out of the meeting" in c.text for c in chunks)
