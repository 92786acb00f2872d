import json
import logging
from pathlib import Path

from index.ingest.articles import MAX_ARTICLE_CHARS, clean_text, load_corpus

from .conftest import SEEDS


def test_seed_article_is_read_without_its_empty_tag_line() -> None:
    corpus = load_corpus(SEEDS)
    assert len(corpus.articles) == 1
    article = corpus.articles[0]
    assert "Tags:" not in article.text
    assert article.text.endswith("color revolution.")
    assert article.title == "Venezuela dares us to send in the marines"
    assert article.source == "venezuela-dares-us-to-send-in-the-marines.txt"


def test_unreadable_files_are_skipped_with_a_warning_naming_them(tmp_path: Path, caplog) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.md").write_text("   \n\n")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 au lait, s'il vous pla\xeet.".encode("latin-1"))
    (tmp_path / "broken.json").write_text('{"title": "x", "text": ')
    (tmp_path / "good.txt").write_text("A council voted on Tuesday. The motion passed.")
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["good.txt"]
    skipped = dict(corpus.skipped)
    assert set(skipped) == {"empty.txt", "blank.md", "binary.txt", "latin1.txt", "broken.json"}
    assert "binary" in skipped["binary.txt"]
    assert "UTF-8" in skipped["latin1.txt"]
    for name in skipped:
        assert name in caplog.text


def test_a_huge_article_is_skipped_with_its_size_and_the_limit_the_rest_read(
    tmp_path: Path,
) -> None:
    """A 10 MB text file (a dump, not an article) is refused at once, saying why; a huge
    record of a .jsonl goes alone, its neighbours are read."""
    (tmp_path / "dump.txt").write_text("Dump\n\n" + "the council met again. " * 450_000)
    (tmp_path / "wire.jsonl").write_text(
        json.dumps({"title": "Huge", "text": "word " * (MAX_ARTICLE_CHARS // 4)})
        + "\n"
        + json.dumps({"title": "Small", "text": "The ferry sailed at noon."})
        + "\n"
    )
    (tmp_path / "good.txt").write_text("A council voted on Tuesday. The motion passed.")
    corpus = load_corpus(tmp_path)
    assert sorted(a.id for a in corpus.articles) == ["good.txt", "wire.jsonl#1"]
    [(name, why)] = corpus.skipped
    assert name == "dump.txt"
    assert why == (
        f"its text is 10,349,999 characters, over the {MAX_ARTICLE_CHARS:,}-character limit "
        "of one article"
    )


def test_html_json_jsonl_and_markdown_articles_keep_their_titles(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Harbour reopens</title><script>var x = 1;</script></head>"
        "<body><nav>Home | News</nav><article><h1>Harbour reopens</h1>"
        "<p>The harbour reopened on <b>Monday</b> after repairs.</p><p>Ferries resumed.</p>"
        "</article><footer>Copyright</footer></body></html>"
    )
    (tmp_path / "story.json").write_text(
        json.dumps(
            {"title": "Mayor resigns", "text": "The mayor resigned.", "url": "https://e.x/m"}
        )
    )
    (tmp_path / "wire.jsonl").write_text(
        json.dumps({"title": "First", "text": "One."})
        + "\n"
        + json.dumps({"text": "Two here."})
        + "\n"
    )
    (tmp_path / "note.md").write_text(
        "---\ntitle: Budget passes\ndate: 2024-05-01\n---\nThe **budget** passed [easily](http://x).\n"
    )
    articles = {a.id: a for a in load_corpus(tmp_path).articles}
    assert articles["page.html"].title == "Harbour reopens"
    assert articles["page.html"].text == (
        "The harbour reopened on Monday after repairs.\n\nFerries resumed."
    )
    assert articles["story.json"].title == "Mayor resigns"
    assert articles["story.json"].source == "https://e.x/m"
    assert articles["wire.jsonl#0"].title == "First"
    assert articles["wire.jsonl#1"].title == "Two here."
    assert articles["note.md"].title == "Budget passes"
    assert articles["note.md"].date == "2024-05-01"
    assert articles["note.md"].text == "The budget passed easily."


def test_front_matter_that_is_not_valid_yaml_is_read_line_by_line(tmp_path: Path) -> None:
    """A colon in an unquoted title breaks YAML; the title, date and source still count and
    the block never shows up as the article's text."""
    (tmp_path / "toll.md").write_text(
        "---\ntitle: Flood: 23 dead as search ends\ndate: 2026-09-05\nsource: The Ledger\n---\n"
        "The toll rose to 23.\n"
    )
    [article] = load_corpus(tmp_path).articles
    assert (article.title, article.date, article.source) == (
        "Flood: 23 dead as search ends",
        "2026-09-05",
        "The Ledger",
    )
    assert article.text == "The toll rose to 23."


def test_the_readable_records_of_a_json_lines_file_are_kept(tmp_path: Path, caplog) -> None:
    (tmp_path / "wire.jsonl").write_text(
        json.dumps({"title": "First", "text": "The harbour reopened."})
        + '\n{"title": "Cut off", "text": "The export stop\n'
        + json.dumps({"title": "No text", "text": 42})
        + "\n"
        + json.dumps({"title": "Fourth", "text": "Ferries resumed."})
        + "\n"
    )
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["wire.jsonl#0", "wire.jsonl#3"]
    assert "skipped wire.jsonl#1: invalid JSON" in caplog.text
    assert "skipped wire.jsonl#2: no non-empty 'text' field" in caplog.text
    assert corpus.skipped == []  # the file itself was read


def test_clean_text_keeps_paragraphs_and_drops_invisible_characters() -> None:
    raw = "First\u200b line.\r\n\r\n\r\n\r\nSecond   line.\nTags: ; ; ;\n"
    assert clean_text(raw) == "First line.\n\nSecond line."
