"""The Pod Security Standards control catalogue (baseline + restricted) and pod-level evaluators.

Source: the doc comments of kubernetes/pod-security-admission `policy/check_*.go` and the Kyverno
`controlName`s of `pkg/pss/utils/mapping.go` (see shared/reference/controls.md §0.1). Each control
carries the field markers a Kyverno rule checking it would mention; `scanner.kyverno` uses them to map
custom validate rules onto controls by the fields they check.
"""
from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("privileged", "baseline", "restricted")
LEVEL_RANK = {lvl: i for i, lvl in enumerate(LEVELS)}


@dataclass(frozen=True)
class Control:
    """A Pod Security Standards control and its names in PSA and Kyverno."""

    id: str  # B1..B12 (baseline), R1..R7 (restricted)
    name: str  # human name; for most controls the Kyverno podSecurity `controlName`
    psa_check: str  # PSA check id
    level: str  # "baseline" or "restricted"
    fields: str  # fields restricted, as documented
    kyverno_name: str | None = None  # `validate.podSecurity.exclude[].controlName`

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}"


CONTROLS: tuple[Control, ...] = (
    Control("B1", "HostProcess", "windowsHostProcess", "baseline",
            "*.securityContext.windowsOptions.hostProcess", "HostProcess"),
    Control("B2", "Host Namespaces", "hostNamespaces", "baseline",
            "spec.hostNetwork, spec.hostPID, spec.hostIPC", "Host Namespaces"),
    Control("B3", "Privileged Containers", "privileged", "baseline",
            "*containers[*].securityContext.privileged", "Privileged Containers"),
    Control("B4", "Capabilities", "capabilities_baseline", "baseline",
            "*containers[*].securityContext.capabilities.add", "Capabilities"),
    Control("B5", "HostPath Volumes", "hostPathVolumes", "baseline", "spec.volumes[*].hostPath", "HostPath Volumes"),
    Control("B6", "Host Ports", "hostPorts", "baseline", "*containers[*].ports[*].hostPort", "Host Ports"),
    Control("B7", "AppArmor", "appArmorProfile", "baseline",
            "apparmor annotations, *.securityContext.appArmorProfile.type", "AppArmor"),
    Control("B8", "SELinux", "seLinuxOptions", "baseline", "*.securityContext.seLinuxOptions", "SELinux"),
    Control("B9", "/proc Mount Type", "procMount", "baseline", "*containers[*].securityContext.procMount",
            "/proc Mount Type"),
    Control("B10", "Seccomp", "seccompProfile_baseline", "baseline",
            "*.securityContext.seccompProfile.type (Unconfined forbidden)", "Seccomp"),
    Control("B11", "Sysctls", "sysctls", "baseline", "spec.securityContext.sysctls[*].name", "Sysctls"),
    Control("B12", "Host probes and lifecycle hooks", "hostProbesAndHostLifecycle", "baseline",
            "*.{liveness,readiness,startup}Probe / lifecycle .{httpGet,tcpSocket}.host", None),
    Control("R1", "Volume Types", "restrictedVolumes", "restricted", "spec.volumes[*] source types", "Volume Types"),
    Control("R2", "Privilege Escalation", "allowPrivilegeEscalation", "restricted",
            "*containers[*].securityContext.allowPrivilegeEscalation must be false", "Privilege Escalation"),
    Control("R3", "Running as Non-root", "runAsNonRoot", "restricted",
            "*.securityContext.runAsNonRoot must be true", "Running as Non-root"),
    Control("R4", "Running as Non-root user", "runAsUser", "restricted",
            "*.securityContext.runAsUser must not be 0", "Running as Non-root user"),
    Control("R5", "Seccomp (restricted)", "seccompProfile_restricted", "restricted",
            "*.securityContext.seccompProfile.type must be RuntimeDefault or Localhost", "Seccomp"),
    Control("R6", "Capabilities (restricted)", "capabilities_restricted", "restricted",
            "capabilities.drop must include ALL; add only NET_BIND_SERVICE", "Capabilities"),
    Control("R7", "/proc Mount Type (restricted)", "procMount_restricted", "restricted",
            "*containers[*].securityContext.procMount must be Default", "/proc Mount Type"),
)
BY_ID = {c.id: c for c in CONTROLS}

# Capabilities the baseline level allows to be added.
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
# Capabilities that (alone) let a container escape or own the node or its network.
DANGEROUS_CAPABILITIES = frozenset({
    "ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "SYS_BOOT", "SYS_TIME", "NET_ADMIN", "NET_RAW",
    "DAC_READ_SEARCH", "BPF", "PERFMON", "SYSLOG", "MAC_ADMIN", "MAC_OVERRIDE", "SYS_RESOURCE", "LINUX_IMMUTABLE",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_CONTROL", "SYS_NICE", "IPC_LOCK",
})
RESTRICTED_VOLUME_TYPES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "image",
})


def controls_for_level(level: str | None) -> list[Control]:
    """Every control a PSA/podSecurity level enforces (restricted includes baseline)."""
    rank = LEVEL_RANK.get(str(level or "").lower(), 0)
    return [c for c in CONTROLS if LEVEL_RANK[c.level] <= rank]


def level_covers(level: str | None, control: Control) -> bool:
    return LEVEL_RANK.get(str(level or "").lower(), 0) >= LEVEL_RANK[control.level]


def controls_named(kyverno_name: str) -> list[Control]:
    """Controls a podSecurity `exclude[].controlName` refers to (Capabilities/Seccomp/procMount span both levels)."""
    n = str(kyverno_name or "").strip().lower()
    return [c for c in CONTROLS if (c.kyverno_name or "").lower() == n]


def cap_name(c) -> str:
    s = str(c).upper()
    return s[4:] if s.startswith("CAP_") else s
