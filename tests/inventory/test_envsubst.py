"""The envsubst port against Flux's measured behaviour (shared/reference/engines.md, section C) and
fluxcd/pkg envsubst's own eval_test.go cases."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.inventory import envsubst
from scanner.inventory.envsubst import EnvsubstError, expand, substitute, variables_in

VARS = {"SET": "value", "EMPTY": "", "B": "bee"}
ERR = object()  # the expression fails

# input, non-strict result, strict result (ERR: an error naming the variable in the last column)
TABLE = [
    ("${SET}", "value", "value"),
    ("${UNSET}", "", ERR),
    ("${EMPTY}", "", ""),
    ("${UNSET:=d}", "d", "d"),
    ("${EMPTY:=d}", "d", "d"),
    ("${SET:=d}", "value", "value"),
    ("${UNSET:-d}", "d", "d"),
    ("${EMPTY:-d}", "d", "d"),
    ("${UNSET=d}", "d", "d"),
    ("${EMPTY=d}", "d", "d"),  # empty counts as unset
    ("${UNSET:+alt}", "alt", "alt"),  # acts as a default: not bash
    ("${SET:+alt}", "value", "value"),
    ("${UNSET:?err}", "err", "err"),  # acts as a default
    ("${UNSET:-${B}}", "bee", "bee"),
    ("${UNSET:-${ALSO_UNSET}}", "", ERR),
    ("${SET:-${ALSO_UNSET}}", "value", ERR),  # nested arguments are evaluated eagerly
    ("${UNSET:-pre-${B}-post}", "pre-bee-post", "pre-bee-post"),
    ("$${SET}", "${SET}", "${SET}"),
    ("$$SET", "$SET", "$SET"),
    ("echo $$ $$$$", "echo $ $$", "echo $ $$"),  # every `$$` becomes `$`
    ("$SET", "$SET", "$SET"),  # no braces: untouched
    ("\\${SET}", "\\value", "\\value"),  # a backslash is no escape
    ("${#SET}", "5", "5"),
    ("${SET^^}", "VALUE", "VALUE"),
    ("${SET,,}", "value", "value"),
    ("${SET^}", "Value", "Value"),
    ("${SET:1:2}", "al", "al"),
    ("${SET/al/AL}", "vALue", "vALue"),
    ("${UNSET^^}", "", ERR),  # a transforming operator on an unset variable (envsubst v1.6.0)
    ("${#UNSET}", "0", ERR),
    ("${UNSET:0:1}", "", ERR),
    ("${UNSET/a/b}", "", ERR),
    ("${UNSET%%a}", "", ERR),
    ("${1abc}", "", ERR),
]

PARSE_ERRORS = [
    ("${UNSET-d}", "missing closing brace"),  # the README lists it, the parser refuses it
    ("${a.b}", "missing closing brace"),
    ("${SET", "missing closing brace"),
    ("${}", "unable to parse variable name"),
    ("${ UNSET }", "unable to parse variable name"),
    ("${X:-abc", "unable to parse substitution within function"),
    ("${X/a}", "bad substitution"),
    ("${#}", "bad substitution"),
    ("${arr[@]}", "missing closing brace"),  # a shell array in a ConfigMap script breaks a Kustomization
]


@pytest.mark.parametrize("text,loose,strict", TABLE, ids=[t[0] for t in TABLE])
def test_engines_table(text, loose, strict):
    assert substitute(text, VARS, strict=False) == loose
    if strict is ERR:
        with pytest.raises(EnvsubstError, match="variable not set \\(strict mode\\)") as exc:
            substitute(text, VARS, strict=True)
        assert exc.value.variable in text
    else:
        assert substitute(text, VARS, strict=True) == strict


@pytest.mark.parametrize("text,message", PARSE_ERRORS, ids=[t[0] for t in PARSE_ERRORS])
@pytest.mark.parametrize("strict", [False, True])
def test_parse_errors(text, message, strict):
    with pytest.raises(EnvsubstError) as exc:
        substitute(text, VARS, strict=strict)
    assert str(exc.value) == message


def test_error_names_the_line_of_the_failing_expression():
    text = "a: 1\nb: ${X:-ok}\nscript: echo ${arr[@]}\n"
    with pytest.raises(EnvsubstError) as exc:
        substitute(text, {}, strict=False)
    assert exc.value.line_in(text) == 3
    strict_text = "a: 1\n\nhost: ${HOST}\n"
    with pytest.raises(EnvsubstError) as exc:
        substitute(strict_text, {}, strict=True)
    assert exc.value.variable == "HOST" and exc.value.line_in(strict_text) == 3


# fluxcd/pkg envsubst eval_test.go TestExpand (mapper: every name exists, unknown ones are "")
EVAL_TEST = [
    ({}, "abcdEFGH28ij", "abcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${#var01}", "12"),
    ({"var01": "abcdEFGH28ij"}, "${var01^}", "AbcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${var01^^}", "ABCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,}", "aBCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,,}", "abcdefgh28ij"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11}", "ideas/thoughts.for.today"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11:5}", "ideas"),
    ({"var": "abc"}, "${var=xyz}", "abc"),
    ({}, "${var=xyz}", "xyz"),
    ({"default_var": "foo"}, "something ${var=${default_var}}", "something foo"),
    ({"default_var": "foo1"}, "foo: ${var=${default_var}-suffix}", "foo: foo1-suffix"),
    ({"default_var": "foo1"}, "foo: ${var=prefix${default_var}-suffix}", "foo: prefixfoo1-suffix"),
    ({}, "${var:=xyz}", "xyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/%abc/XYZ}", "abcABC123ABCXYZ"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/#abc/XYZ}", "XYZABC123ABCabc"),
    ({"stringZ": "somevalue"}, "${stringZ/#/prefix-}", "prefix-somevalue"),
    ({"stringZ": "somevalue"}, "${stringZ/%/-suffix}", "somevalue-suffix"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ//abc/xyz}", "xyzABC123ABCxyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/abc/xyz}", "xyzABC123ABCabc"),
    ({"filename": "bash.string.txt"}, "${filename#*.}", "string.txt"),
    ({"filename": "path/to/file"}, "${filename#*/}", "to/file"),
    ({"filename": "/path/to/file"}, "${filename#*/}", "path/to/file"),
    ({"filename": "bash.string.txt"}, "${filename##*.}", "txt"),
    ({"filename": "path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "/path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "bash.string.txt"}, "${filename%.*}", "bash.string"),
    ({"filename": "bash.string.txt"}, "${filename%%.*}", "bash"),
    ({"var01": "abcdEFGH28ij"}, "${var=${var01^^}}", "ABCDEFGH28IJ"),
    ({"var01": "abcdEFGH28ij"}, "$${var01}", "${var01}"),
    ({"var01": "abcdEFGH28ij"}, "some text ${var01}$${var$${var01}$var01${var01}",
     "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij"),
    ({"default_var": "foo"}, "something $${var=${default_var}}", "something ${var=foo}"),
    ({"stringZ": "foo/bar"}, "${stringZ/\\//-}", "foo-bar"),
    ({"stringZ": "foo/bar/baz"}, "${stringZ//\\//-}", "foo-bar-baz"),
    ({"default_var": "foo"}, "\\\\something ${var=${default_var}}", "\\\\something foo"),
    ({"stringZ": "foo.bar"}, "${stringZ/./}", "foobar"),
]


@pytest.mark.parametrize("variables,text,expected", EVAL_TEST, ids=[t[1] for t in EVAL_TEST])
def test_fluxcd_eval_cases(variables, text, expected):
    assert substitute(text, variables, strict=False) == expected


def test_substrings_and_lengths_count_bytes_as_go_does():
    # (`${X:-2}` is the default operator, as in bash: a negative offset needs `${X: -2}`, which Go
    # cannot parse as a number, so the value comes back whole)
    assert substitute("${X}|${#X}|${X:1}|${X:-2}|${X: -2}|${X:1:-1}", {"X": "héllo"}, strict=True) == \
        "héllo|6|éllo|héllo|héllo|éll"
    assert substitute("${X:9}|${X:x}|${X:1:9}", {"X": "abc"}, strict=True) == "|abc|bc"
    with pytest.raises(EnvsubstError, match="not valid UTF-8"):
        substitute("${X:0:1}", {"X": "é"}, strict=True)  # half a character: Flux fails to parse it back


def test_case_mapping_is_per_character():
    assert substitute("${X^^}", {"X": "straße"}, strict=True) == "STRAßE"  # never 'SS', as in Go


def test_text_after_a_nul_byte_is_dropped():
    assert substitute("a: ${X}\0 b: ${Y}", {"X": "1"}, strict=True) == "a: 1"


def test_undefined_names_are_reported_in_non_strict_mode():
    out = expand("host: ${APP}.${DOMAIN:-example.org} ${SET:-${NESTED}}", VARS, strict=False)
    assert out.text == "host: .example.org value"
    assert out.undefined == {"APP", "NESTED"}  # what strict mode would reject
    assert out.unreadable == frozenset()


def test_unreadable_expressions_stay_as_written():
    secret = {"TOKEN", "PASS"}.__contains__
    text = "a: ${TOKEN}\nb: ${TOKEN:-none}\nc: ${SET:-${TOKEN}}\nd: ${UNSET:-${PASS}}\ne: ${SET/a/${PASS}}\nf: ${B}"
    out = expand(text, VARS, strict=True, unreadable=secret)
    assert out.text == "a: ${TOKEN}\nb: ${TOKEN:-none}\nc: value\nd: ${PASS}\ne: ${SET/a/${PASS}}\nf: bee"
    assert out.unreadable == {"TOKEN", "PASS"}
    assert out.undefined == frozenset()
    # written form is the original text, escapes included
    assert expand("${TOKEN//\\//-}", {}, strict=True, unreadable=secret).text == "${TOKEN//\\//-}"


def test_strict_mode_still_fails_inside_an_unreadable_expression():
    with pytest.raises(EnvsubstError) as exc:
        expand("${TOKEN:-${MISSING}}", {}, strict=True, unreadable={"TOKEN"}.__contains__)
    assert exc.value.variable == "MISSING"


def test_variables_in_lists_nested_names():
    assert variables_in("${A} ${B:-${C}} $${D} ${#E} ${F/x/${G}} $H") == {"A", "B", "C", "E", "F", "G"}
    assert variables_in("no variables here") == set()
    with pytest.raises(EnvsubstError):
        variables_in("${A-b}")


def test_deep_nesting_is_refused_not_crashing():
    text = "${A:-" * 200 + "x" + "}" * 200
    with pytest.raises(EnvsubstError, match="nested deeper"):
        substitute(text, {}, strict=False)
    assert substitute("${A:-" * 50 + "x" + "}" * 50, {}, strict=True) == "x"


def test_large_documents_with_many_substitutions():
    text = "data:\n" + "".join(f"  k{i}: ${{V{i % 7}}}-$${{keep}}-plain text here\n" for i in range(20000))
    out = substitute(text, {f"V{i}": str(i) for i in range(7)}, strict=True)
    assert out.count("${keep}") == 20000 and "  k8: 1-${keep}-plain" in out


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="$\0")))
def test_text_without_dollar_is_unchanged(text):
    assert substitute(text, VARS, strict=True) == text
    assert substitute(text, {}, strict=False) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("${}:-=+?#%/^,\\ab1 .\n\0é"))))
def test_arbitrary_text_never_raises_anything_but_envsubst_errors(text):
    for strict in (False, True):
        try:
            out = substitute(text, VARS, strict=strict)
        except EnvsubstError:
            continue
        assert isinstance(out, str)


def _parse_outcome(text: str):
    """The parse tree (spans included) or the error with its position."""
    try:
        return envsubst._parse(text)
    except EnvsubstError as exc:
        return ("error", str(exc), exc.position)


# Texts full of well- and ill-formed references: `${` name operator default closing, between pieces of
# substitution syntax.
_PIECES = st.sampled_from(["${", "}", "$", "$$", "A", "_", "9", "é", ":", "=", "-", "#", "/", "\\", " ", "\n", "\0",
                           "\udcff"])
_REFERENCES = st.builds(lambda name, operator, default, close: "${" + name + operator + default + close,
                        st.sampled_from(["X", "A_1", "9", "_", "é", "", "b c"]),
                        st.sampled_from(["", ":", "=", ":=", ":-", ":?", ":+", "::=", ":=:", "-", "#", "%", "/",
                                         "^", ","]),
                        st.lists(st.sampled_from(["d", " ", "$", "${Y}", "}", "\0", "é", "\udcff", "\\", ":",
                                                  "="]), max_size=4).map("".join),
                        st.sampled_from(["}", "", "}}"]))


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(_REFERENCES, _PIECES), max_size=10).map("".join))
def test_plain_references_parse_exactly_as_the_byte_by_byte_scanner(text):
    """`${NAME}` is parsed by a regex shortcut: the tree, spans and errors equal the port of Go's scanner
    stepping through the same text (the shortcut switched off)."""
    fast = _parse_outcome(text)
    shortcut = envsubst._PLAIN_REFERENCE
    envsubst._PLAIN_REFERENCE = re.compile(rb"(?!)")  # never matches: every reference takes parse_func
    try:
        slow = _parse_outcome(text)
    finally:
        envsubst._PLAIN_REFERENCE = shortcut
    assert fast == slow


def test_plain_reference_shortcut_is_taken_and_keeps_spans():
    tree, _ = envsubst._parse("a ${APP_1} b ${é} ${X:=5 Gi} ${Y:-}")
    funcs = [(n.param, n.name, n.args, n.span) for n in tree if isinstance(n, envsubst._Func)]
    assert funcs[0] == ("APP_1", "", [], (2, 10))
    assert funcs[2:] == [("X", ":=", [envsubst._Text("5 Gi")], (19, 29)), ("Y", ":-", [], (30, 36))]
    for taken in (b"APP_1}", b"X:=d}", b"X:-}", b"X=d}"):
        assert envsubst._PLAIN_REFERENCE.match(taken)
    for not_taken in (b"\xc3\xa9}", b"X:=${Y}}", b"X::=d}", b"#X}", b"X/a/b}"):
        assert not envsubst._PLAIN_REFERENCE.match(not_taken)
