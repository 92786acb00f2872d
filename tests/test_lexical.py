"""The lexical index (BM25 via bm25s): scores, IDF, known words, save and load."""

from pathlib import Path

import numpy as np

from index.search.lexical import LexicalIndex, tokenize

PASSAGES = [
    "Delcy Rodriguez stormed out of the meeting in Cancun.",
    "The resolution fell three votes shy of the 23 it needed.",
    "The General Assembly needs a simple majority of 18 votes.",
]


def test_the_passage_holding_the_words_scores_highest() -> None:
    index = LexicalIndex.build(PASSAGES)
    scores = index.scores("Who stormed out of the meeting?")
    assert scores.shape == (3,) and int(np.argmax(scores)) == 0
    assert index.scores("banana bread recipe").tolist() == [0.0, 0.0, 0.0]


def test_rare_words_weigh_more_and_unseen_ones_most() -> None:
    index = LexicalIndex.build(PASSAGES)
    [votes] = tokenize(["votes"])[0]
    [cancun] = tokenize(["Cancun"])[0]
    [unseen] = tokenize(["Messi"])[0]
    assert index.idf(votes) < index.idf(cancun) < index.idf(unseen)


def test_knows_every_word_of_a_name_or_not() -> None:
    index = LexicalIndex.build(PASSAGES)
    assert index.knows("Delcy Rodriguez") and index.knows("general assembly")
    assert not index.knows("Lionel Messi")


def test_an_empty_or_all_stopword_corpus_builds_and_answers_nothing() -> None:
    assert LexicalIndex.build([]).scores("anything").tolist() == []
    assert LexicalIndex.build(["the of and"]).scores("the").tolist() == [0.0]


def test_saved_and_loaded_it_scores_the_same(tmp_path: Path) -> None:
    index = LexicalIndex.build(PASSAGES)
    index.save(tmp_path)
    again = LexicalIndex.load(tmp_path, len(PASSAGES))
    question = "How many votes did the General Assembly need?"
    assert np.allclose(again.scores(question), index.scores(question))
    assert again.idf("vote") == index.idf("vote")
