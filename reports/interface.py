"""The formatter contract: what a `gitops_posture.formatters` entry point must provide.

An entry point names a module (or any object) with

    FILENAME: str                                   the report file's name in the output directory
    render(report: Report, options: RenderOptions) -> str

and, for formats too large to hold as one string, optionally

    write(report: Report, options: RenderOptions, fh: TextIO) -> None

`report` is the typed model (scanner.engine.report_model.Report): formatters read attributes, never
dict keys, and never change it (it is frozen). tests/reports/test_contract.py runs every
registered formatter on a real report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TextIO, runtime_checkable

from scanner.engine.report_model import Report


@dataclass(frozen=True)
class RenderOptions:
    """What a formatter may be told besides the report."""

    history: tuple[dict, ...] = ()  # earlier JSON reports (oldest first) for trend charts
    web_url: str | None = None  # overrides the repository URL used for file links
    max_findings: int | None = None  # a cap on listed findings, for formats that list them
    checklist: bool = True  # show the Flux security checklist view where the format has one
    extra: dict = field(default_factory=dict)  # format-specific settings of third-party formatters
    template_cache_dir: str | None = None  # where compiled templates are kept between runs (None: none)


@runtime_checkable
class Formatter(Protocol):
    FILENAME: str

    def render(self, report: Report, options: RenderOptions) -> str: ...


@runtime_checkable
class StreamingFormatter(Formatter, Protocol):
    def write(self, report: Report, options: RenderOptions, fh: TextIO) -> None: ...
