"""HelmRelease facts: which chart (and version) a release installs, its release name."""
from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.core.model import Resource

APP_TEMPLATE_NAMES = ("app-template",)


@dataclass(slots=True)
class ChartInfo:
    """The chart a HelmRelease installs: name, version and source."""

    name: str | None
    version: str | None
    source_kind: str | None
    url: str | None = None


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def chart_of(hr: Resource, oci_lookup) -> ChartInfo:
    """`oci_lookup(kind, namespace, name) -> Resource|None` finds the chartRef's source."""
    spec = hr.spec
    chart_spec = _d(_d(spec.get("chart")).get("spec"))
    if chart_spec.get("chart"):
        src = _d(chart_spec.get("sourceRef"))
        return ChartInfo(str(chart_spec["chart"]).rsplit("/", 1)[-1], _s(chart_spec.get("version")), src.get("kind"))
    ref = _d(spec.get("chartRef"))
    if ref.get("name"):
        kind = ref.get("kind") or "OCIRepository"
        src = oci_lookup(kind, ref.get("namespace") or hr.namespace, ref["name"])
        if src is not None:
            url = str(src.spec.get("url") or "")
            ref_spec = _d(src.spec.get("ref"))
            name = url.rstrip("/").rsplit("/", 1)[-1] if url else None
            if kind == "HelmChart":
                name = src.spec.get("chart")
            return ChartInfo(name or ref["name"], _s(ref_spec.get("tag") or ref_spec.get("semver") or ref_spec.get("digest")), kind, url)
        return ChartInfo(str(ref["name"]), None, kind)
    return ChartInfo(None, None, None)


def _s(v) -> str | None:
    return None if v is None else str(v)


def release_name(hr: Resource) -> str:
    rn = hr.spec.get("releaseName")
    return str(rn) if rn else hr.name


def looks_like_app_template(values) -> bool:
    """app-template values have controllers with containers (v2-v5) — shape, not version."""
    ctrls = _d(values).get("controllers") if isinstance(values, dict) else None
    if not isinstance(ctrls, dict):
        return False
    return any(isinstance(c, dict) and isinstance(c.get("containers"), dict) for c in ctrls.values())


_MAJOR = re.compile(r"^v?(\d+)")


def major_version(version: str | None) -> int | None:
    m = _MAJOR.match(version or "")
    return int(m.group(1)) if m else None
