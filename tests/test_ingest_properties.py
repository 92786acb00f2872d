"""Property tests: whatever files the corpus holds, ingest never crashes and keeps what it can."""

import json
import logging
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.ingest.articles import load_corpus

NAMES = st.sampled_from(["a.txt", "b.md", "c.html", "d.json", "e.jsonl", "f.htm", "g.markdown"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

contents = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=2000).map(str.encode),
    st.text(alphabet="x ", min_size=1, max_size=20).map(lambda s: (s * 5000).encode()),  # huge line
    st.integers(1, 60).map(
        lambda depth: ("<div>" * depth + "deep text" + "</div>" * depth).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["title", "text", "url", "date"]), json_values, max_size=4).map(
        lambda d: json.dumps(d).encode()
    ),
    st.just(b"---\ntitle: Only front matter\n---\n"),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=st.lists(st.tuples(NAMES, contents), min_size=1, max_size=5))
def test_ingest_never_crashes_and_accounts_for_every_file(tmp_path_factory, caplog, files) -> None:
    folder = tmp_path_factory.mktemp("corpus")
    for number, (name, content) in enumerate(files):
        (folder / f"{number}{name}").write_bytes(content)
    (folder / "good.txt").write_text("The harbour reopened on Monday.")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(folder)
    read = {a.id.split("#")[0] for a in corpus.articles}
    skipped = {path for path, _ in corpus.skipped}
    assert "good.txt" in read
    assert read | skipped == {p.name for p in folder.iterdir()}  # nothing silently lost
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert all(name in warned for name in skipped), "each skipped file is named in a warning"
    for article in corpus.articles:
        assert article.text.strip() and article.title.strip()


def test_a_50_mb_file_is_skipped_by_size_and_the_rest_kept(tmp_path: Path, caplog) -> None:
    with open(tmp_path / "huge.txt", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    (tmp_path / "small.txt").write_text("A short article.")
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["small.txt"]
    assert "huge.txt" in caplog.text and "limit" in dict(corpus.skipped)["huge.txt"]
