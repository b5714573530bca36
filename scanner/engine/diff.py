"""What changed between two reports: score deltas, new, resolved and re-rated findings; the
baseline gate built on it.

Findings are paired across reports in passes, most specific first, each pairing one-to-one:
  1. the engine's `fingerprint`, when both sides have one;
  2. check id + resource identity (kind/namespace/name) + subject + normalised location;
  3. check id + resource identity + subject, for real resources (survives moves anywhere).
Normalised locations drop line numbers and the directory prefix up to the app folder, so lines
shifting, files being reordered, or an app (or the whole tree) moving never show as churn. For a
finding on a real resource the location is just the app folder, so files may also move within the
app. A finding whose only identity is a file (no resource, or the engine's synthetic `File`
resource) keeps its path from the app folder on: two leaks in two files of one app must stay two.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

from scanner.core.model import LAYERS, SEVERITIES, SEVERITY_RANK

ACTIVE = ("fail", "warn")  # statuses that are findings; pass and waived are not


# --- identity ------------------------------------------------------------------------------------

def _split_app(path: str) -> tuple[str | None, str]:
    """(app folder, path from the app folder on) or (None, parent/file) when no app is recognised."""
    parts = PurePosixPath(path).parts
    if not parts or parts == (".",):
        return None, path
    dirs = parts[:-1]
    if "app" in dirs[1:]:  # home-ops layout: .../<ns>/<app>/app/helmrelease.yaml
        i = len(dirs) - 1 - dirs[::-1].index("app") - 1
        return dirs[i], "/".join(parts[i:])
    if "apps" in dirs:  # flux2 example layouts: .../apps/<ns-or-env>/<app>/file
        j = len(dirs) - dirs[::-1].index("apps")  # first segment after the last "apps"
        if len(dirs) - j >= 2:
            return dirs[j + 1], "/".join(parts[j + 1:])
    return None, "/".join(parts[-2:])


def app_path(path: str | None) -> str:
    """A path without the directory prefix up to its app folder: survives moving the app (or the
    whole tree) but not renaming the file. For findings whose only identity is a file."""
    if not path:
        return ""
    if path.startswith("cluster://"):
        return path
    return _split_app(path)[1]


def location_key(path: str | None) -> str:
    """Where a finding on a known resource lives, coarsely: its app folder (so files may move
    within the app), else parent/file. The resource itself says which object it is."""
    if not path:
        return ""
    if path.startswith("cluster://"):
        return "cluster"
    app, rest = _split_app(path)
    return f"app:{app}" if app else f"file:{rest}"


_PATH_IN_TEXT = re.compile(r"[\w.@+-]*(?:/[\w.@+-]+)*\.(?:ya?ml|json|env|toml|tf)(?::\d+)*")
_LINE_WORD = re.compile(r"\bline \d+\b", re.IGNORECASE)


def normalise_subject(subject, resource_known: bool = False) -> str:
    """A subject without line numbers, and with file paths in it reduced: to the app folder when
    the finding names a real resource, else only stripped of the directory prefix up to the app
    (the path is then what tells two findings apart: two leaks in two files of one app must not
    merge, or a new leak could hide behind a fixed one)."""
    reduce = location_key if resource_known else app_path
    text = _LINE_WORD.sub("line ?", str(subject or ""))
    return _PATH_IN_TEXT.sub(lambda m: reduce(re.sub(r"(?::\d+)+$", "", m.group(0))), text).strip()


def _real_resource(finding: dict) -> bool:
    res = finding.get("resource")
    return isinstance(res, dict) and bool(res.get("kind") or res.get("name")) and res.get("kind") != "File"


def resource_key(finding: dict) -> str:
    """kind/namespace/name; a synthetic `File` resource (named by its path) keeps its app path."""
    res = finding.get("resource")
    if not isinstance(res, dict) or not (res.get("kind") or res.get("name")):
        return ""
    name = str(res.get("name") or "")
    if res.get("kind") == "File":
        name = app_path(name)
    return f"{res.get('kind') or ''}/{res.get('namespace') or '-'}/{name}"


def _path_of(finding: dict) -> str | None:
    loc = finding.get("location")
    return loc.get("path") if isinstance(loc, dict) else None


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def loose_identity(check_id: str, finding: dict) -> str:
    """Identity without the engine's fingerprint: check + resource + subject + normalised location."""
    real = _real_resource(finding)
    where = (location_key if real else app_path)(_path_of(finding))
    return _hash(check_id, resource_key(finding), normalise_subject(finding.get("subject"), real), where)


def finding_identity(check_id: str, finding: dict) -> str:
    """The engine's fingerprint when present, else the loose identity."""
    fp = finding.get("fingerprint")
    return str(fp) if fp else loose_identity(check_id, finding)


def _pass_keys(rec: dict) -> list[str | None]:
    check_id, f = rec["check"], rec["finding"]
    real = _real_resource(f)
    return [
        f"{check_id}\x1f{f['fingerprint']}" if f.get("fingerprint") else None,
        loose_identity(check_id, f),
        _hash(check_id, resource_key(f), normalise_subject(f.get("subject"), True)) if real else None,
    ]


# --- pairing -------------------------------------------------------------------------------------

def _records(report: dict) -> list[dict]:
    out = []
    for check in report.get("checks") or []:
        if not isinstance(check, dict):
            continue
        for f in check.get("findings") or []:
            if not isinstance(f, dict):
                continue
            sev = f.get("severity") or check.get("severity") or "info"
            out.append({
                "check": check.get("id", ""),
                "layer": check.get("layer") or str(check.get("id", "")).split(".")[0],
                "severity": sev if sev in SEVERITY_RANK else "info",
                "status": f.get("status") or "fail",
                "finding": f,
            })
    return out


def pair(old: list[dict], new: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Match records one-to-one: (pairs, old only, new only). Deterministic for equal inputs."""
    old_keys = [_pass_keys(r) for r in old]
    new_keys = [_pass_keys(r) for r in new]
    old_left = set(range(len(old)))
    new_left = set(range(len(new)))
    pairs: list[tuple[int, int]] = []
    for level in range(3):
        waiting: dict[str, list[int]] = {}
        for j in sorted(new_left):
            k = new_keys[j][level]
            if k is not None:
                waiting.setdefault(k, []).append(j)
        for i in sorted(old_left):
            k = old_keys[i][level]
            if k is not None and waiting.get(k):
                j = waiting[k].pop(0)
                pairs.append((i, j))
                old_left.discard(i)
                new_left.discard(j)
    return ([(old[i], new[j]) for i, j in sorted(pairs)],
            [old[i] for i in sorted(old_left)], [new[j] for j in sorted(new_left)])


# --- diff ----------------------------------------------------------------------------------------

def _item(rec: dict) -> dict:
    f = rec["finding"]
    loc = f.get("location") if isinstance(f.get("location"), dict) else None
    where = None
    if loc and loc.get("path"):
        where = f"{loc['path']}:{loc['line']}" if loc.get("line") else loc["path"]
    return {
        "identity": finding_identity(rec["check"], f),
        "check": rec["check"],
        "layer": rec["layer"],
        "severity": rec["severity"],
        "status": rec["status"],
        "subject": f.get("subject"),
        "message": f.get("message"),
        "resource": resource_key(f) or None,
        "location": where,
    }


def _order(item: dict):
    return (-SEVERITY_RANK.get(item["severity"], 0), item["check"], str(item["subject"] or ""),
            str(item["location"] or ""))


def _delta(old, new):
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return round(new - old, 2)
    return None


def _side(report: dict, label: str | None) -> dict:
    scan = report.get("scan") or {}
    score = report.get("score") or {}
    return {"label": label, "started_at": scan.get("started_at"), "git_commit": scan.get("git_commit"),
            "overall": score.get("overall"), "grade": score.get("grade")}


def diff_reports(old: dict, new: dict, old_label: str | None = None, new_label: str | None = None) -> dict:
    pairs, gone, appeared = pair(_records(old), _records(new))
    new_items, resolved, changed = [], [], []
    unchanged = 0
    for o, n in pairs:
        o_active, n_active = o["status"] in ACTIVE, n["status"] in ACTIVE
        if o_active and n_active:
            if o["severity"] != n["severity"]:
                changed.append(dict(_item(n), old_severity=o["severity"], new_severity=n["severity"]))
            else:
                unchanged += 1
        elif o_active:
            resolved.append(dict(_item(o), now=n["status"]))
        elif n_active:
            new_items.append(dict(_item(n), was=o["status"]))
    resolved += [dict(_item(o), now="absent") for o in gone if o["status"] in ACTIVE]
    new_items += [dict(_item(n), was="absent") for n in appeared if n["status"] in ACTIVE]

    old_layers = (old.get("score") or {}).get("layers") or {}
    new_layers = (new.get("score") or {}).get("layers") or {}
    names = [layer for layer in LAYERS if layer in old_layers or layer in new_layers]
    names += sorted((set(old_layers) | set(new_layers)) - set(names))
    layers = {}
    for name in names:
        o = (old_layers.get(name) or {}).get("score")
        n = (new_layers.get(name) or {}).get("score")
        layers[name] = {"old": o, "new": n, "delta": _delta(o, n)}
    o_score, n_score = _side(old, old_label), _side(new, new_label)
    old_checks = {c.get("id") for c in old.get("checks") or [] if isinstance(c, dict)}
    new_checks = {c.get("id") for c in new.get("checks") or [] if isinstance(c, dict)}
    return {
        "old": o_score,
        "new": n_score,
        "score": {
            "overall": {"old": o_score["overall"], "new": n_score["overall"],
                        "delta": _delta(o_score["overall"], n_score["overall"])},
            "grade": {"old": o_score["grade"], "new": n_score["grade"]},
            "layers": layers,
        },
        "summary": {"new": len(new_items), "resolved": len(resolved),
                    "severity_changed": len(changed), "unchanged": unchanged},
        "new_findings": sorted(new_items, key=_order),
        "resolved_findings": sorted(resolved, key=_order),
        "severity_changed": sorted(changed, key=_order),
        "checks_added": sorted(x for x in new_checks - old_checks if x),
        "checks_removed": sorted(x for x in old_checks - new_checks if x),
    }


# --- baseline gate -------------------------------------------------------------------------------

def _rank(sev: str) -> int:
    return SEVERITY_RANK.get(sev, 0)


def baseline_gate(baseline_report: dict, report: dict, fail_on_new: str | None,
                  max_score_drop: float | None) -> list[str]:
    """Why the gate fails relative to a baseline (empty list: it holds).

    `fail_on_new`: fail on findings with status `fail` at or above this severity that the baseline
    did not have, or had below it (a re-rating that crosses the threshold is new at that level).
    `max_score_drop`: fail when the overall score fell by more than this many points.
    """
    if fail_on_new is not None and fail_on_new not in SEVERITIES:
        raise ValueError(f"--fail-on-new must be one of {', '.join(SEVERITIES)}, not {fail_on_new!r}")
    if max_score_drop is not None and max_score_drop < 0:
        raise ValueError("--max-score-drop must be >= 0")
    d = diff_reports(baseline_report, report)
    reasons = []
    if fail_on_new is not None:
        floor = _rank(fail_on_new)
        hits = [i for i in d["new_findings"] if i["status"] == "fail" and _rank(i["severity"]) >= floor]
        hits += [i for i in d["severity_changed"] if i["status"] == "fail"
                 and _rank(i["new_severity"]) >= floor > _rank(i["old_severity"])]
        hits.sort(key=_order)
        if hits:
            by_sev = {}
            for i in hits:
                by_sev[i["severity"]] = by_sev.get(i["severity"], 0) + 1
            counts = ", ".join(f"{by_sev[s]} {s}" for s in SEVERITIES if s in by_sev)
            shown = "; ".join(f"{i['check']} {i['subject'] or i['resource'] or ''}".strip() for i in hits[:5])
            more = f"; and {len(hits) - 5} more" if len(hits) > 5 else ""
            reasons.append(f"{len(hits)} new finding(s) at or above {fail_on_new} relative to the "
                           f"baseline ({counts}): {shown}{more}")
    if max_score_drop is not None:
        old, new = d["score"]["overall"]["old"], d["score"]["overall"]["new"]
        if isinstance(old, (int, float)) and isinstance(new, (int, float)):
            drop = round(old - new, 2)
            if drop > max_score_drop:
                reasons.append(f"overall score dropped {drop:g} points ({old:g} -> {new:g}), "
                               f"more than the allowed {max_score_drop:g}")
    return reasons
