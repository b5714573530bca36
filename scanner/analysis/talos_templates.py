"""Talos configuration kept as templates (talhelper `talconfig.yaml`, `.j2`/`.tmpl` patches), read as far
as it is plain YAML once the template lines are removed.

A template file is a YAML file whose name carries a template suffix (`x.yaml.j2`, `x.yaml.tmpl`, ...) or
a `.yaml` file that did not parse because of template syntax. Reading it:
- a line holding a template *statement* (Jinja `{% if %}`/`{# #}`, makejinja `#% %#`/`#| |#`, Go
  `{{ if }}`/`{{ end }}`/`{{ range }}`/`{{/* */}}`, a statement spanning lines) is blanked: what it
  controls is unknowable without the template's inputs, so both branches of an `if` stay as written;
- a line that is nothing but template *expressions* (`{{ include "x" . | nindent 4 }}`) is blanked too;
- every other expression (`{{ cluster_name }}`, `#{ addr }#`) is parsed as an opaque scalar and put back
  verbatim afterwards, so a value set by the template reads as the expression itself (see
  `is_template_value`), never as a guessed value.
Line numbers are kept (blanked lines stay as empty lines), so findings point at the template's own
lines. A template that still does not parse is read document by document; the documents that parse are
used and the rest is reported by the caller as unread.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from scanner.core.model import Document
from scanner.sources.yamlload import load_documents

TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2", ".tmpl", ".tpl", ".gotmpl")
YAML_SUFFIXES = (".yaml", ".yml")

# Go template actions that control flow (the rest are expressions that print a value).
_GO_STATEMENT = re.compile(r"^\{\{-?\s*(?:if|else|end|range|with|define|template|block|break|continue|/\*|"
                           r"\$[\w]*\s*:?=)", re.S)
_STATEMENT_OPEN = re.compile(r"\{%|\{#|#%|#\||\{\{-?\s*/\*")
_STATEMENT = re.compile(r"\{%.*?%\}|\{#.*?#\}|#%.*?%#|#\|.*?\|#|\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)
_EXPRESSION = re.compile(r"\{\{.*?\}\}|#\{.*?\}#", re.S)
_CLOSERS = {"{%": "%}", "{#": "#}", "#%": "%#", "#|": "|#"}
_TOKEN = re.compile(r"tplx(\d+)x")
# What a Talos document looks like, checked on the raw text before any parse (most templates are not Talos).
_TALOS_HINT = re.compile(r"(?m)^\s*(?:talosVersion\s*:|machine\s*:|cluster\s*:|-\s*op\s*:|apiVersion\s*:\s*v1alpha1\b)")
_TEMPLATE_HINT = re.compile(r"\{\{|\{%|#%|#\{")


@dataclass
class TemplateRead:
    """One template file as far as it reads: its documents and what could not be read."""

    path: str
    documents: list[Document] = field(default_factory=list)
    blanked: list[int] = field(default_factory=list)  # 1-based lines removed as template lines
    unread: list[str] = field(default_factory=list)  # why parts of it were not read


def rendered_name(path: str) -> str | None:
    """The YAML name a template renders to (`talos/talconfig.yaml.j2` -> `talos/talconfig.yaml`), or None."""
    low = path.lower()
    for suf in TEMPLATE_SUFFIXES:
        if low.endswith(suf) and low[: -len(suf)].endswith(YAML_SUFFIXES):
            return path[: -len(suf)]
    return None


def is_template_value(value) -> bool:
    """A value the template decides (an expression put back verbatim)."""
    return isinstance(value, str) and bool(_EXPRESSION.search(value))


def _go_statement(tag: str) -> bool:
    return tag.startswith("{{") and bool(_GO_STATEMENT.match(tag))


def detemplate(text: str) -> tuple[str, dict[str, str], list[int]]:
    """(YAML text with template lines blanked and expressions tokenised, token -> expression, blanked lines)."""
    out_lines: list[str] = []
    tokens: dict[str, str] = {}
    blanked: list[int] = []
    closer: str | None = None  # inside a statement or comment spanning lines
    for n, line in enumerate(text.split("\n"), start=1):
        if closer is not None:
            blanked.append(n)
            out_lines.append("")
            if closer in line:
                closer = None
            continue
        stripped = _STATEMENT.sub("", line)
        opened = _STATEMENT_OPEN.search(stripped)
        if opened:  # a statement opened and not closed on this line: blank until it closes
            closer = _CLOSERS.get(opened.group(0)[:2], "*/")
            blanked.append(n)
            out_lines.append("")
            continue
        exprs = _EXPRESSION.findall(line)
        if stripped != line or any(_go_statement(e) for e in exprs):
            blanked.append(n)
            out_lines.append("")
            continue
        if exprs and not _EXPRESSION.sub("", line).strip().lstrip("-").strip():
            blanked.append(n)  # a line that only prints template output (an include, a whole block)
            out_lines.append("")
            continue

        def token(m: re.Match) -> str:
            key = f"tplx{len(tokens)}x"
            tokens[key] = m.group(0)
            return key

        out_lines.append(_EXPRESSION.sub(token, line) if exprs else line)
    return "\n".join(out_lines), tokens, blanked


def _restore(value, tokens: dict[str, str]):
    if isinstance(value, str):
        return _TOKEN.sub(lambda m: tokens.get(m.group(0), m.group(0)), value) if "tplx" in value else value
    if isinstance(value, dict):
        return {_restore(k, tokens): _restore(v, tokens) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, tokens) for v in value]
    return value


def _chunks(text: str) -> list[tuple[int, str]]:
    """(0-based first line, text) of each `---`-separated document."""
    out, start, buf = [], 0, []
    for i, line in enumerate(text.split("\n")):
        if line.rstrip() == "---" or line.startswith("--- "):
            out.append((start, "\n".join(buf)))
            start, buf = i, [""]  # keep the separator's line as a blank one
            continue
        buf.append(line)
    out.append((start, "\n".join(buf)))
    return out


def read_template(path: str, text: str) -> TemplateRead:
    """The documents of one template file, line numbers those of the file."""
    from scanner.sources.parse import ParsedDocument

    read = TemplateRead(path)
    plain, tokens, read.blanked = detemplate(text)
    loaded, errors = load_documents(plain)
    if errors and not loaded:
        loaded = []
        for start, chunk in _chunks(plain):
            docs, errs = load_documents("\n" * start + chunk)
            loaded.extend(docs)
            read.unread.extend(f"line {e.line or start + 1}: {e.message}" for e in errs)
    else:
        read.unread.extend(f"line {e.line}: {e.message}" for e in errors)
    for i, d in enumerate(loaded):
        doc = ParsedDocument(path, d.line, i, _restore(d.body, tokens))
        doc.lines = d.lines
        read.documents.append(doc)
    return read


def candidates(inv) -> list[str]:
    """Files that may hold Talos configuration as a template: template-suffixed YAML, and `.yaml` files
    with template syntax that did not parse."""
    parsed = {d.path for d in inv.documents if d.origin == "git"}
    out = []
    for f in inv.files:
        if inv.is_archived(f):
            continue
        if rendered_name(f) is not None:
            out.append(f)
        elif f.lower().endswith(YAML_SUFFIXES) and f not in parsed:
            out.append(f)
    return out


def talos_templates(inv) -> list[TemplateRead]:
    """Every template file that reads as Talos-shaped YAML (memoised per inventory)."""
    from scanner.core.memo import memo

    def build():
        out = []
        for f in candidates(inv):
            text = inv.text(f)
            if not text or not _TALOS_HINT.search(text):
                continue
            if rendered_name(f) is None and not _TEMPLATE_HINT.search(text):
                continue  # a `.yaml` that failed for another reason: plain invalid YAML, not a template
            read = read_template(f, text)
            if read.documents:
                out.append(read)
        return out

    return memo(inv, "talos_templates.reads", build)


def lookup_names(path: str) -> list[str]:
    """The names a talconfig `@./patch.yaml` reference can reach this file by: its own path and, for a
    template, the name it renders to."""
    rendered = rendered_name(path)
    return [path] + ([posixpath.normpath(rendered)] if rendered else [])
