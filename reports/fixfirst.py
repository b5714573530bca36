""""Fix first": the fixes that raise the overall score most, identical fixes grouped.

The score is a weighted mean of layer scores, each a severity-weighted mean of check scores, each the
share of passing subjects (scanner.engine.scoring). So fixing one failing subject of check c raises
the overall score by exactly

    100 / subjects(c) * sev_weight(c) / sum of sev_weight over the scored checks of c's layer
                      * layer_weight / sum of layer_weight over the scored layers

(half that for a warning, which already counts half). The same fix applied to several subjects
(one check, one remediation: "add a default-deny policy" to 12 namespaces) is one item whose gain
is the sum over its subjects. Items are ranked by that gain, then severity.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.engine.scoring import SEVERITY_WEIGHTS

SEV_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}
OPEN = {"fail": 1.0, "warn": 0.5}  # share of a subject's weight still missing from the score
MAX_ITEMS = 20


@dataclass
class FixItem:
    check: dict
    remediation: str
    severity: str
    gain: float = 0.0
    findings: list[dict] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.check.get('id')}|{self.remediation}"


def _weights(report: dict) -> tuple[dict[str, float], dict[str, float]]:
    """(layer -> its share of the overall score, layer -> sum of severity weights of its scored checks)."""
    layers = (report.get("score") or {}).get("layers") or {}
    scored = {name: float(info.get("weight", 1.0) if isinstance(info.get("weight"), (int, float)) else 1.0)
              for name, info in layers.items() if isinstance(info, dict) and info.get("score") is not None}
    total = sum(scored.values())
    share = {name: (w / total if total > 0 else 0.0) for name, w in scored.items()}
    sev_sum: dict[str, float] = {}
    for c in report.get("checks") or []:
        if c.get("score") is None:
            continue
        sev_sum[c.get("layer")] = sev_sum.get(c.get("layer"), 0.0) + SEVERITY_WEIGHTS.get(c.get("severity"), 0.0)
    return share, sev_sum


def gain_per_subject(check: dict, share: dict[str, float], sev_sum: dict[str, float]) -> float:
    """Overall-score points one fixed failing subject of `check` is worth."""
    total = (check.get("subjects") or {}).get("total") or len(check.get("findings") or [])
    layer = check.get("layer")
    if not total or check.get("score") is None or not sev_sum.get(layer) or layer not in share:
        return 0.0
    return 100.0 / total * SEVERITY_WEIGHTS.get(check.get("severity"), 0.0) / sev_sum[layer] * share[layer]


def fix_first(report: dict, limit: int = MAX_ITEMS) -> list[FixItem]:
    share, sev_sum = _weights(report)
    items: dict[tuple, FixItem] = {}
    for check in report.get("checks") or []:
        per = gain_per_subject(check, share, sev_sum)
        for f in check.get("findings") or []:
            status = f.get("status")
            if status not in OPEN:
                continue
            remediation = (f.get("remediation") or check.get("remediation") or "").strip()
            key = (check.get("id"), remediation)
            item = items.get(key)
            sev = f.get("severity") or check.get("severity") or "info"
            if item is None:
                item = items[key] = FixItem(check, remediation, sev)
            elif SEV_RANK.get(sev, 0) > SEV_RANK.get(item.severity, 0):
                item.severity = sev
            item.gain += per * OPEN[status]
            item.findings.append(f)
    ranked = sorted(items.values(), key=lambda i: (-round(i.gain, 6), -SEV_RANK.get(i.severity, 0),
                                                   -len(i.findings), str(i.check.get("id"))))
    return ranked[:limit]
