"""The committed docs/ are byte for byte what `make docs` writes from the code: a contract or topic
change must come with `make docs`, and `make docs` under the locked versions changes nothing."""

from shared.docs import DOCS, generated_documents


def test_committed_docs_are_what_make_docs_writes():
    stale = [
        str(path.relative_to(DOCS.parent))
        for path, text in generated_documents().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"stale: {stale}; run `make docs`"
