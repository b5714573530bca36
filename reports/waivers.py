"""How a waiver entry names one finding: shared by the HTML snippet and `posture waive`."""
from __future__ import annotations


def waiver_resource(finding: dict) -> str:
    """What a waiver's `resource` glob should say to match exactly this finding: `Kind/namespace/name`
    for a finding on a resource (one of the targets the engine matches waivers against), else its
    subject or file."""
    r = finding.get("resource") or {}
    if r.get("kind") or r.get("name"):
        return f"{r.get('kind')}/{r.get('namespace') or '-'}/{r.get('name')}"
    return finding.get("subject") or ((finding.get("location") or {}).get("path") or "*")
