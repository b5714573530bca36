"""The Flux project's security audit checklist (`flux_checklist.yaml` beside this module): its items
and the check ids that cover each one. The catalogue (docs/checks.md) and the reports read it from
here; it is data, not a check module (no entry point)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    section: str
    title: str
    ask: str  # what the item asks for, in one line
    checks: tuple[str, ...]
    findings: tuple[dict, ...] = ()  # alternatives narrowing the item to some of its checks' findings

    def covers(self, finding: dict) -> bool:
        """Whether a finding of one of the item's checks belongs to this item."""
        if not self.findings:
            return True
        ev = finding.get("evidence") or {}
        kind = (finding.get("resource") or {}).get("kind")
        key_path = str(ev.get("key_path") or "")
        return any(_matches(alt, kind, key_path, ev.get("generator")) for alt in self.findings)


@dataclass(frozen=True)
class Checklist:
    title: str
    url: str
    commit: str
    items: tuple[ChecklistItem, ...]
    additional: tuple[tuple[str, str], ...]  # (check id, why) beyond the checklist

    def check_ids(self) -> set[str]:
        return {c for item in self.items for c in item.checks} | {c for c, _ in self.additional}


def _matches(alt: dict, kind, key_path: str, generator) -> bool:
    if alt.get("kinds") and kind not in alt["kinds"]:
        return False
    if alt.get("key_paths") and not any(key_path == p or key_path.startswith(p + ".") for p in alt["key_paths"]):
        return False
    if alt.get("generators") and generator not in alt["generators"]:
        return False
    return bool(alt)


@functools.lru_cache(maxsize=1)
def load() -> Checklist:
    text = resources.files("checks").joinpath("flux_checklist.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # (libyaml: 6x faster)
    src = data.get("source") or {}
    items = tuple(ChecklistItem(str(i["id"]), str(i["section"]), str(i["title"]), str(i.get("ask") or ""),
                                tuple(str(c) for c in i.get("checks") or ()),
                                tuple(f for f in i.get("findings") or () if isinstance(f, dict)))
                  for i in data.get("items") or ())
    extra = tuple((str(a["check"]), str(a.get("why") or "")) for a in data.get("additional") or ())
    return Checklist(str(src.get("title") or ""), str(src.get("url") or ""), str(src.get("commit") or ""), items, extra)
