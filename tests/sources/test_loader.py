"""The YAML loader: every document with its line, tolerant of what Flux accepts, errors recorded."""
from __future__ import annotations

from scanner.sources.parse import parse_file, read_text
from scanner.sources.yamlload import load_documents


def test_multi_document_lines_and_empty_documents():
    text = "---\n# c\napiVersion: v1\nkind: A\n---\n---\napiVersion: v1\nkind: B\n...\n"
    docs, errors = load_documents(text)
    assert not errors
    assert [(d.body["kind"], d.line) for d in docs] == [("A", 3), ("B", 7)]


def test_redefined_anchor_loads_with_last_definition_winning():
    text = "a: &x 1\nb: *x\nc: &x 2\nd: *x\n"
    docs, errors = load_documents(text)
    assert not errors
    assert docs[0].body == {"a": 1, "b": 1, "c": 2, "d": 2}


def test_unknown_tags_and_bare_equals_are_plain_values():
    text = "a: !Find [authentik_flows.flow, [slug, x]]\nb: !env_var HOME\nmatchType: =\n"
    docs, errors = load_documents(text)
    assert not errors
    assert docs[0].body["b"] == "HOME"
    assert docs[0].body["matchType"] == "="
    assert docs[0].body["a"][0] == "authentik_flows.flow"


def test_flux_substitutions_stay_text_and_timestamps_are_strings():
    docs, _ = load_documents("name: ${APP}\nwhen: 2024-01-02T03:04:05Z\n")
    assert docs[0].body == {"name": "${APP}", "when": "2024-01-02T03:04:05Z"}


def test_broken_yaml_reports_line():
    docs, errors = load_documents("a: 1\nb: [1, 2\nc: 3\n")
    assert docs == [] and len(errors) == 1
    assert errors[0].line is not None and errors[0].code == "yaml-invalid"


def test_helm_template_is_named_as_such():
    docs, errors = load_documents("metadata:\n  name: {{ .Values.name }}\n  labels:\n{{ include \"x\" . | indent 4 }}\n")
    assert docs == [] and errors[0].code == "yaml-helm-template"


def test_alias_bomb_is_refused_quickly():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    docs, errors = load_documents("\n".join(lines) + "\n")
    assert docs == []
    assert errors[0].code == "yaml-alias-bomb"


def test_deep_nesting_is_refused():
    text = "a: " + "[" * 2000 + "]" * 2000 + "\n"
    docs, errors = load_documents(text)
    assert docs == [] and errors


def test_binary_non_utf8_and_oversized_files(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(b"apiVersion: v1\n\x00\x01\x02")
    (tmp_path / "latin1.yaml").write_bytes(b"a: 1\nb: caf\xe9\n")
    (tmp_path / "big.yaml").write_text("a: " + "x" * 2048 + "\n")
    assert "binary" in parse_file(str(tmp_path), "bin.yaml")[1][0].message
    err = parse_file(str(tmp_path), "latin1.yaml")[1][0]
    assert "UTF-8" in err.message and err.line == 2
    _, err = read_text(str(tmp_path), "big.yaml", max_bytes=1024)
    assert err is not None and "limit" in err.message


def test_bom_is_ignored(tmp_path):
    (tmp_path / "bom.yaml").write_bytes("\ufeffapiVersion: v1\nkind: ConfigMap\n".encode())
    docs, errors = parse_file(str(tmp_path), "bom.yaml")
    assert not errors and docs[0].body["kind"] == "ConfigMap"
