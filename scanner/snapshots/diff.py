"""What changed between two reports: score deltas, new, resolved and re-rated findings; the
baseline gate built on it.

Findings are paired across reports in passes, most specific first, each pairing one-to-one:
  1. the engine's `fingerprint`, when both sides have one;
  2. check id + resource identity (kind/namespace/name) + subject + normalised location;
  3. check id + resource identity + subject, when there is a resource (survives moves anywhere).
Normalised locations drop line numbers and the directory prefix up to the app folder, so lines
shifting, files being reordered, or an app folder moving in the tree never show as churn.
File paths inside a subject are reduced the same way, but only when the finding names a resource:
without one, the path is all that tells two leaks apart, and merging them could hide a new leak
behind a fixed one.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

from ..model import LAYERS, SEVERITIES, SEVERITY_RANK

ACTIVE = ("fail", "warn")  # statuses that are findings; pass and waived are not


# --- identity ------------------------------------------------------------------------------------

def location_key(path: str | None) -> str:
    """A file's location reduced to what survives moves: its app folder, else parent/file."""
    if not path:
        return ""
    if path.startswith("cluster://"):
        return "cluster"  # live objects are identified by their resource, not a path
    parts = PurePosixPath(path).parts
    dirs, name = parts[:-1], parts[-1]
    if "app" in dirs[1:]:  # home-ops layout: .../<ns>/<app>/app/helmrelease.yaml
        i = len(dirs) - 1 - dirs[::-1].index("app")
        return f"app:{dirs[i - 1]}"
    if "apps" in dirs:  # .../apps/<ns-or-env>/<app>/file
        rest = dirs[len(dirs) - dirs[::-1].index("apps"):]
        if len(rest) >= 2:
            return f"app:{rest[1]}"
        if rest:
            return f"file:{rest[0]}/{name}"
    return f"file:{dirs[-1]}/{name}" if dirs else f"file:{name}"


_PATH_IN_TEXT = re.compile(r"[\w.@+-]*(?:/[\w.@+-]+)*\.(?:ya?ml|json|env|toml|tf)(?::\d+)*")
_LINE_WORD = re.compile(r"\bline \d+\b", re.IGNORECASE)


def normalise_subject(subject, resource_known: bool = False) -> str:
    """Drop line numbers from a subject; with a known resource, also reduce file paths in it to
    their location key (the resource already says which object it is, so the path is noise)."""
    text = _LINE_WORD.sub("line ?", str(subject or ""))

    def _path(m: re.Match) -> str:
        path = re.sub(r"(?::\d+)+$", "", m.group(0))
        return location_key(path) if resource_known else path

    return _PATH_IN_TEXT.sub(_path, text).strip()


def resource_key(finding: dict) -> str:
    res = finding.get("resource")
    if not isinstance(res, dict) or not (res.get("kind") or res.get("name")):
        return ""
    return f"{res.get('kind') or ''}/{res.get('namespace') or '-'}/{res.get('name') or ''}"


def _path_of(finding: dict) -> str | None:
    loc = finding.get("location")
    return loc.get("path") if isinstance(loc, dict) else None


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def loose_identity(check_id: str, finding: dict) -> str:
    """Identity without the engine's fingerprint: check + resource + subject + location key."""
    res = resource_key(finding)
    return _hash(check_id, res, normalise_subject(finding.get("subject"), bool(res)),
                 location_key(_path_of(finding)))


def finding_identity(check_id: str, finding: dict) -> str:
    """The engine's fingerprint when present, else the loose identity."""
    fp = finding.get("fingerprint")
    return str(fp) if fp else loose_identity(check_id, finding)


def _pass_keys(rec: dict) -> list[str | None]:
    check_id, f = rec["check"], rec["finding"]
    res = resource_key(f)
    subject = normalise_subject(f.get("subject"), bool(res))
    return [
        f"{check_id}\x1f{f['fingerprint']}" if f.get("fingerprint") else None,
        loose_identity(check_id, f),
        _hash(check_id, res, subject) if res else None,
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
