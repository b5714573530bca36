"""Evaluate a pod spec against a Pod Security Standards level, as Pod Security Admission does.

Follows the checks of kubernetes/pod-security-admission `policy/check_*.go` (see
shared/reference/controls.md): each violation names its control (scanner.analysis.pss ids).
"""
from __future__ import annotations

from scanner.analysis.pss import BASELINE_CAPABILITIES, LEVEL_RANK, RESTRICTED_VOLUME_TYPES, cap_name

# Sysctls the baseline level allows (policy/check_sysctls.go, latest).
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
})
SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def containers(spec: dict) -> list[dict]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers") for c in _l(spec.get(key))
            if isinstance(c, dict)]


def _baseline(spec: dict) -> list[tuple[str, str]]:
    out = []
    psc = _d(spec.get("securityContext"))
    cs = containers(spec)
    if _d(psc.get("windowsOptions")).get("hostProcess") is True or any(
            _d(_d(c.get("securityContext")).get("windowsOptions")).get("hostProcess") is True for c in cs):
        out.append(("B1", "a windows HostProcess container"))
    for f in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(f) is True:
            out.append(("B2", f"{f}: true"))
    for c in cs:
        sc = _d(c.get("securityContext"))
        name = c.get("name")
        if sc.get("privileged") is True:
            out.append(("B3", f"container {name} is privileged"))
        added = [cap_name(x) for x in _l(_d(sc.get("capabilities")).get("add"))]
        extra = [a for a in added if a not in BASELINE_CAPABILITIES]
        if extra:
            out.append(("B4", f"container {name} adds {', '.join(extra)}"))
        for p in _l(c.get("ports")):
            if _d(p).get("hostPort"):
                out.append(("B6", f"container {name} uses hostPort {_d(p)['hostPort']}"))
        if str(sc.get("procMount") or "Default") != "Default":
            out.append(("B9", f"container {name} sets procMount {sc['procMount']}"))
        if str(_d(sc.get("seccompProfile")).get("type") or "") == "Unconfined":
            out.append(("B10", f"container {name} runs seccomp Unconfined"))
        if str(_d(sc.get("appArmorProfile")).get("type") or "") == "Unconfined":
            out.append(("B7", f"container {name} runs AppArmor Unconfined"))
        se = _d(sc.get("seLinuxOptions"))
        if se.get("user") or se.get("role") or str(se.get("type") or "") not in SELINUX_TYPES:
            out.append(("B8", f"container {name} sets custom SELinux options"))
    for v in _l(spec.get("volumes")):
        if isinstance(v, dict) and "hostPath" in v:
            out.append(("B5", f"hostPath volume {v.get('name')}"))
    if str(_d(psc.get("seccompProfile")).get("type") or "") == "Unconfined":
        out.append(("B10", "the pod runs seccomp Unconfined"))
    if str(_d(psc.get("appArmorProfile")).get("type") or "") == "Unconfined":
        out.append(("B7", "the pod runs AppArmor Unconfined"))
    se = _d(psc.get("seLinuxOptions"))
    if se.get("user") or se.get("role") or str(se.get("type") or "") not in SELINUX_TYPES:
        out.append(("B8", "the pod sets custom SELinux options"))
    for s in _l(psc.get("sysctls")):
        if isinstance(s, dict) and str(s.get("name")) not in SAFE_SYSCTLS:
            out.append(("B11", f"unsafe sysctl {s.get('name')}"))
    return out


def _restricted(spec: dict) -> list[tuple[str, str]]:
    out = []
    psc = _d(spec.get("securityContext"))
    for v in _l(spec.get("volumes")):
        if isinstance(v, dict):
            types = [k for k in v if k != "name"]
            bad = [t for t in types if t not in RESTRICTED_VOLUME_TYPES]
            if bad:
                out.append(("R1", f"volume {v.get('name')} of type {bad[0]}"))
    pod_nonroot = psc.get("runAsNonRoot")
    pod_seccomp = str(_d(psc.get("seccompProfile")).get("type") or "")
    if str(psc.get("runAsUser")) == "0":
        out.append(("R4", "the pod runs as UID 0"))
    for c in containers(spec):
        sc = _d(c.get("securityContext"))
        name = c.get("name")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(("R2", f"container {name} does not set allowPrivilegeEscalation: false"))
        nonroot = sc.get("runAsNonRoot", pod_nonroot)
        if nonroot is not True:
            out.append(("R3", f"container {name} does not run with runAsNonRoot: true"))
        if str(sc.get("runAsUser")) == "0":
            out.append(("R4", f"container {name} runs as UID 0"))
        prof = str(_d(sc.get("seccompProfile")).get("type") or pod_seccomp)
        if prof not in ("RuntimeDefault", "Localhost"):
            out.append(("R5", f"container {name} sets no RuntimeDefault/Localhost seccomp profile"))
        caps = _d(sc.get("capabilities"))
        drop = {cap_name(x) for x in _l(caps.get("drop"))}
        add = [cap_name(x) for x in _l(caps.get("add"))]
        if "ALL" not in drop:
            out.append(("R6", f"container {name} does not drop ALL capabilities"))
        elif any(a != "NET_BIND_SERVICE" for a in add):
            out.append(("R6", f"container {name} adds {', '.join(a for a in add if a != 'NET_BIND_SERVICE')}"))
    return out


def violations(spec: dict, level: str, skip: frozenset = frozenset()) -> list[tuple[str, str]]:
    """(control id, what) for every control of `level` the pod spec breaks, minus the `skip` ids."""
    rank = LEVEL_RANK.get(str(level or "").lower(), 0)
    out = _baseline(spec) if rank >= 1 else []
    if rank >= 2:
        out += _restricted(spec)
    return [v for v in out if v[0] not in skip]
