""".gitignore matching: the built-in matcher for simple patterns (names and `*` globs) answers every
query as pathspec does; anything else goes to pathspec."""
from __future__ import annotations

import pathspec
import pytest
from hypothesis import given, settings, strategies as st

from scanner import discover

SEGMENT_CHARS = "ab.*-_"
segment = st.text(alphabet="abx.-_", min_size=1, max_size=4).filter(lambda s: s not in (".", ".."))
glob_segment = st.text(alphabet=SEGMENT_CHARS, min_size=1, max_size=5).filter(
    lambda s: s not in (".", "..") and "**" not in s)


@st.composite
def simple_pattern(draw):
    segs = draw(st.lists(glob_segment, min_size=1, max_size=3))
    lead = draw(st.booleans())
    trail = draw(st.booleans())
    if lead or len(segs) > 1:  # a path pattern: a lone `*` segment is pathspec's (test below)
        segs = [seg if seg != "*" else "*x" for seg in segs]
    return ("/" if lead else "") + "/".join(segs) + ("/" if trail else "")


@st.composite
def query(draw):
    segs = draw(st.lists(segment, min_size=1, max_size=4))
    return "/".join(segs) + ("/" if draw(st.booleans()) else "")


def pathspec_answer(lines, path: str) -> bool:
    """What the walk asked before the built-in matcher: pathspec's compiled patterns, last match wins."""
    result = False
    for pattern in pathspec.PathSpec.from_lines("gitignore", lines).patterns:
        if pattern.include is not None and pattern.regex.search(path) is not None:
            result = pattern.include
    return result


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(simple_pattern(), st.just("# a comment"), st.just("")), min_size=0, max_size=5),
       st.lists(query(), min_size=1, max_size=8))
def test_simple_patterns_answer_as_pathspec(lines, paths):
    match = discover._simple_matcher(lines)
    assert match is not None
    for path in paths:
        assert match(path) == pathspec_answer(lines, path), (lines, path)


@pytest.mark.parametrize("lines,path,expected", [
    (["*.key"], "talos/age.key", True),
    (["*.key"], "keys.d/", False),
    ([".decrypted~*.yaml"], "apps/.decrypted~secret.yaml", True),
    (["/age.key"], "sub/age.key", False),
    (["/age.key"], "age.key", True),
    (["charts/"], "apps/charts/", True),
    (["charts/"], "apps/charts", False),
    (["a/*.x"], "a/b.x/c.yaml", True),
    (["*"], "anything/", True),
    (["foo*bar"], "fooXbar", True),
    (["foo*bar"], "foobar", True),
    (["foo*bar"], "fooba", False),
    (["a*b*c"], "abbc", True),
    (["a*b*c"], "acb", False),
])
def test_simple_patterns_examples(lines, path, expected):
    assert discover._simple_matcher(lines)(path) is expected
    assert pathspec_answer(lines, path) is expected


@pytest.mark.parametrize("line", ["!keep.yaml", "file?.txt", "[ab].txt", "**/.terraform/*", "a/**", "\\#x",
                                  " lead", "trail ", "a//b", "./x", "../x", "a/*", "*/b", "a/*/c/"])
def test_other_patterns_go_to_pathspec(line):
    assert discover._simple_matcher(["*.key", line]) is None
    match = discover._gitignore_matcher(["*.key", line])
    for path in ("x.key", "keep.yaml", "file1.txt", "a.txt", "z/.terraform/state", "a/b/c", "#x", " lead", "a/",
                 "a/x/y", "q/b"):
        assert match(path) == pathspec_answer(["*.key", line], path), (line, path)


def test_walk_with_simple_gitignore_loads_no_pathspec_and_finds_the_same_files(tmp_path, monkeypatch):
    (tmp_path / ".gitignore").write_text("*.key\n/build/\ncharts/\n# c\n\n.decrypted~*.yaml\n")
    for rel in ("a.yaml", "x.key", "build/out.yaml", "sub/build/kept.yaml", "apps/charts/c.yaml",
                "apps/.decrypted~s.yaml", "apps/app.yaml", "apps/charts.yaml"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a: 1\n")
    (tmp_path / "apps" / ".gitignore").write_text("/app.yaml\n")
    found = discover._walk_files(str(tmp_path), [])
    assert found == [".gitignore", "a.yaml", "apps/.gitignore", "apps/charts.yaml", "sub/build/kept.yaml"]
    monkeypatch.setattr(discover, "_simple_matcher", lambda lines: None)  # everything through pathspec
    assert discover._walk_files(str(tmp_path), []) == found
