"""Derive pod templates (workloads) from raw manifests and from app-template HelmRelease values.

A peer that reads only raw manifests misses most of a home-ops cluster, where nearly every app is
an app-template HelmRelease. Derived workloads carry the key path of each value they were built
from, so a finding can point at the exact line of the HelmRelease.
"""
from __future__ import annotations

import copy

from scanner.inventory.helm import looks_like_app_template, major_version, release_name
from scanner.core.model import Container, Resource, Workload

POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
POD_FIELDS = ("securityContext", "hostNetwork", "hostPID", "hostIPC", "hostUsers", "automountServiceAccountToken",
              "serviceAccountName", "volumes", "enableServiceLinks", "imagePullSecrets", "runtimeClassName",
              "priorityClassName", "nodeSelector", "tolerations", "shareProcessNamespace", "dnsPolicy")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _get(d, path):
    for k in path:
        if isinstance(d, dict):
            d = d.get(k)
        elif isinstance(d, list) and isinstance(k, int) and k < len(d):
            d = d[k]
        else:
            return None
    return d


def from_manifest(res: Resource) -> Workload | None:
    kind = res.kind
    if kind == "Pod":
        tpl_path: tuple = ()
        template = {"metadata": res.metadata, "spec": res.spec}
        spec_path = ("spec",)
    elif kind in POD_TEMPLATE_PATHS and res.api_version in ("apps/v1", "batch/v1", "batch/v1beta1", "extensions/v1beta1", "apps/v1beta2"):
        tpl_path = POD_TEMPLATE_PATHS[kind]
        template = _d(_get(res.body, tpl_path))
        spec_path = tpl_path + ("spec",)
    else:
        return None
    spec = _d(template.get("spec"))
    pod = {k: spec[k] for k in POD_FIELDS if k in spec}
    containers: list[Container] = []
    for key, init in (("initContainers", True), ("containers", False), ("ephemeralContainers", False)):
        for i, c in enumerate(spec.get(key) or []):
            if isinstance(c, dict):
                containers.append(Container(name=str(c.get("name", f"{key}[{i}]")), spec=c, init=init,
                                            path=spec_path + (key, i)))
    labels = _d(_d(template.get("metadata")).get("labels"))
    return Workload(name=res.name, namespace=res.namespace, kind=kind, resource=res, pod=pod,
                    containers=containers, source="manifest", pod_path=spec_path,
                    pod_paths={k: spec_path + (k,) for k in pod}, labels=labels)


# ---- app-template -------------------------------------------------------------------------------

def image_string(image) -> str:
    """`{repository, tag, digest}` → `repo:tag@digest`; strings pass through."""
    if isinstance(image, str):
        return image
    image = _d(image)
    repo = str(image.get("repository") or "")
    tag = image.get("tag")
    digest = image.get("digest")
    out = repo
    if tag not in (None, ""):
        out += f":{tag}"
    if digest:
        out += f"@{digest}"
    return out


def _env_list(env) -> list:
    """app-template accepts env as a map (`KEY: value` or `KEY: {valueFrom: ...}`) or a list."""
    if isinstance(env, list):
        return [e for e in env if isinstance(e, dict)]
    out = []
    for k, v in _d(env).items():
        if isinstance(v, dict):
            item = {"name": str(v.get("name", k))}
            item.update({kk: vv for kk, vv in v.items() if kk != "name"})
            out.append(item)
        else:
            out.append({"name": str(k), "value": v})
    return out


def _env_from_list(env_from, release: str) -> list:
    out = []
    for e in env_from if isinstance(env_from, list) else []:
        if not isinstance(e, dict):
            continue
        e = dict(e)
        if "secret" in e and isinstance(e["secret"], str):  # app-template shorthand
            e = {"secretRef": {"name": e["secret"]}}
        if "configMap" in e and isinstance(e["configMap"], str):
            e = {"configMapRef": {"name": e["configMap"]}}
        for ref_key in ("secretRef", "configMapRef"):
            ref = e.get(ref_key)
            if isinstance(ref, dict) and "identifier" in ref and "name" not in ref:
                e[ref_key] = dict(ref, name=f"{release}-{ref['identifier']}")
        out.append(e)
    return out


def _normalise_container(c: dict, release: str) -> dict:
    spec = dict(c)
    spec["image"] = image_string(c.get("image"))
    if "env" in c:
        spec["env"] = _env_list(c.get("env"))
    if "envFrom" in c:
        spec["envFrom"] = _env_from_list(c.get("envFrom"), release)
    return spec


def _persistence_volumes(values: dict, release: str, base: tuple) -> tuple[list, dict]:
    """Pod volumes implied by `persistence:` (hostPath, secret, PVCs), with their key paths."""
    volumes, paths = [], {}
    for pid, p in _d(values.get("persistence")).items():
        if not isinstance(p, dict) or p.get("enabled") is False:
            continue
        ptype = p.get("type") or ("persistentVolumeClaim" if not p.get("existingClaim") else "persistentVolumeClaim")
        vol: dict = {"name": str(pid)}
        if ptype == "hostPath":
            vol["hostPath"] = {"path": p.get("hostPath"), "type": p.get("hostPathType")}
        elif ptype == "secret":
            vol["secret"] = {"secretName": p.get("name") or (f"{release}-{p['identifier']}" if p.get("identifier") else pid)}
        elif ptype == "configMap":
            vol["configMap"] = {"name": p.get("name") or (f"{release}-{p['identifier']}" if p.get("identifier") else pid)}
        elif ptype == "emptyDir":
            vol["emptyDir"] = {k: p[k] for k in ("medium", "sizeLimit") if k in p}
        elif ptype == "nfs":
            vol["nfs"] = {"server": p.get("server"), "path": p.get("path")}
        elif ptype == "persistentVolumeClaim":
            claim = p.get("existingClaim") or (f"{release}-{pid}" if not p.get("nameOverride") else p["nameOverride"])
            vol["persistentVolumeClaim"] = {"claimName": claim, "created": not p.get("existingClaim")}
        elif ptype == "custom":
            vol.update(_d(p.get("volumeSpec")))
        else:
            vol[str(ptype)] = {}
        volumes.append(vol)
        paths[str(pid)] = base + ("persistence", pid)
    return volumes, paths


def _deep_merge(dst: dict, src: dict) -> dict:
    out = copy.deepcopy(dst)
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _with_container_defaults(c: dict, defaults: dict, strategy) -> dict:
    """`controllers.<c>.defaultContainerOptions` (app-template 3+): `overwrite` (default) keeps a container's
    own key whole; `merge` deep-merges the container's key over the default."""
    out = dict(c)
    for k, v in defaults.items():
        if k not in out:
            out[k] = copy.deepcopy(v)
        elif strategy == "merge" and isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = _deep_merge(v, out[k])
    return out


def _default_pod_options(version: str | None) -> dict:
    """Chart defaults that matter for security: app-template 5 stopped mounting the SA token."""
    major = major_version(version)
    return {"automountServiceAccountToken": major is None or major < 5, "enableServiceLinks": False}


def from_app_template(hr: Resource, chart_version: str | None, values: dict | None = None) -> list[Workload]:
    values = hr.spec.get("values") if values is None else values
    if not looks_like_app_template(values):
        return []
    base = ("spec", "values")
    release = release_name(hr)
    defaults = _d(values.get("defaultPodOptions"))
    strategy = values.get("defaultPodOptionsStrategy", "overwrite")
    persistence_volumes, persistence_paths = _persistence_volumes(values, release, base)
    controllers = _d(values.get("controllers"))
    enabled = {cid: c for cid, c in controllers.items() if isinstance(c, dict) and c.get("enabled", True) is not False}
    out = []
    for cid, ctrl in enabled.items():
        pod = _default_pod_options(chart_version)
        pod_paths: dict = {}
        for k, v in defaults.items():
            pod[k] = copy.deepcopy(v)
            pod_paths[k] = base + ("defaultPodOptions", k)
        for k, v in _d(ctrl.get("pod")).items():
            if strategy == "merge" and isinstance(v, dict) and isinstance(pod.get(k), dict):
                merged = dict(pod[k])
                merged.update(v)
                pod[k] = merged
            else:
                pod[k] = copy.deepcopy(v)
            pod_paths[k] = base + ("controllers", cid, "pod", k)
        pod["volumes"] = list(pod.get("volumes") or []) + persistence_volumes
        for pid, path in persistence_paths.items():
            pod_paths[f"volume:{pid}"] = path
        sa = _d(ctrl.get("serviceAccount"))
        if sa.get("name") or sa.get("identifier"):
            pod["serviceAccountName"] = sa.get("name") or f"{release}-{sa['identifier']}"
        containers = []
        dco = _d(ctrl.get("defaultContainerOptions"))
        dco_strategy = ctrl.get("defaultContainerOptionsStrategy", "overwrite")
        dco_init = ctrl.get("applyDefaultContainerOptionsToInitContainers", True) is not False
        for key, init in (("initContainers", True), ("containers", False)):
            for name, c in _d(ctrl.get(key)).items():
                if isinstance(c, dict) and c.get("enabled", True) is not False:
                    cpath = base + ("controllers", cid, key, name)
                    if dco and (dco_init or not init):
                        c = _with_container_defaults(c, dco, dco_strategy)
                        for k in dco:
                            if k not in _d(ctrl.get(key)).get(name, {}):
                                pod_paths[f"container:{name}:{k}"] = base + ("controllers", cid, "defaultContainerOptions", k)
                    containers.append(Container(name=str(name), spec=_normalise_container(c, release), init=init,
                                                path=cpath))
        ctype = str(ctrl.get("type") or "deployment").lower()
        kind = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet",
                "cronjob": "CronJob", "job": "Job"}.get(ctype, "Deployment")
        name = release if (len(enabled) == 1 or cid == release) else f"{release}-{cid}"
        labels = {"app.kubernetes.io/name": release, "app.kubernetes.io/instance": release,
                  "app.kubernetes.io/controller": str(cid)}
        labels.update({str(k): str(v) for k, v in _d(_d(ctrl.get("pod")).get("labels")).items()})
        labels.update({str(k): str(v) for k, v in _d(defaults.get("labels")).items()})
        out.append(Workload(name=name, namespace=hr.namespace, kind=kind, resource=hr, pod=pod,
                            containers=containers, source="app-template",
                            pod_path=base + ("controllers", cid), pod_paths=pod_paths,
                            chart_version=chart_version, labels=labels))
    return out


# ---- well-known third-party charts ---------------------------------------------------------------
# A few charts whose pod template is simple and security-relevant enough to derive from values.
# Each entry maps chart values onto the rendered pod: `defaults` are the chart's own values.yaml
# (Helm deep-merges the HelmRelease values over them), `container` the container's value paths,
# `pod` the pod-level ones, `host_paths` the hostPath volumes the template always mounts.
KNOWN_CHARTS: dict[str, dict] = {
    # NVIDIA/dcgm-exporter deployment/templates/daemonset.yaml (chart 3.x/4.x)
    "dcgm-exporter": {
        "kind": "DaemonSet",
        "container": "exporter",
        "defaults": {
            "image": {"repository": "nvcr.io/nvidia/k8s/dcgm-exporter", "tag": "chart-appVersion"},
            "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}},
            "kubeletPath": "/var/lib/kubelet/pod-resources",
        },
        "container_values": {"securityContext": ("securityContext",), "image": ("image",),
                             "resources": ("resources",), "env": ("extraEnv",)},
        "pod_values": {"securityContext": ("podSecurityContext",), "hostNetwork": ("hostNetwork",),
                       "runtimeClassName": ("runtimeClassName",), "tolerations": ("tolerations",),
                       "nodeSelector": ("nodeSelector",)},
        "host_paths": [("pod-gpu-resources", ("kubeletPath",))],
        "extra_host_volumes": ("extraHostVolumes",),
    },
}


def known_chart(name: str | None) -> dict | None:
    return KNOWN_CHARTS.get((name or "").lower())


def from_chart_values(hr: Resource, chart_name: str | None, chart_version: str | None) -> list[Workload]:
    """The pod template of a well-known third-party chart, from its HelmRelease values over chart defaults."""
    spec = known_chart(chart_name)
    if spec is None:
        return []
    user = _d(hr.spec.get("values"))
    values = _deep_merge(spec["defaults"], user)
    base = ("spec", "values")

    def where(vpath: tuple) -> tuple:
        return base + vpath if _get(user, vpath) is not None else base

    pod: dict = {"automountServiceAccountToken": True}
    pod_paths: dict = {}
    for field_name, vpath in spec.get("pod_values", {}).items():
        v = _get(values, vpath)
        if v not in (None, {}, [], ""):
            pod[field_name] = copy.deepcopy(v)
            pod_paths[field_name] = where(vpath)
    volumes = []
    for vol_name, vpath in spec.get("host_paths", []):
        volumes.append({"name": vol_name, "hostPath": {"path": _get(values, vpath)}})
        pod_paths[f"volume:{vol_name}"] = where(vpath)
    for i, extra in enumerate(_get(values, spec["extra_host_volumes"]) or [] if spec.get("extra_host_volumes") else []):
        if isinstance(extra, dict) and extra.get("hostPath"):
            name = str(extra.get("name") or f"extra-{i}")
            volumes.append({"name": name, "hostPath": {"path": extra["hostPath"]}})
            pod_paths[f"volume:{name}"] = base + spec["extra_host_volumes"] + (i,)
    pod["volumes"] = volumes
    sa = _d(values.get("serviceAccount"))
    if sa.get("create", True) is not False or sa.get("name"):
        pod["serviceAccountName"] = str(sa.get("name") or release_name(hr))
    cspec: dict = {"name": spec["container"]}
    cname = spec["container"]
    for field_name, vpath in spec.get("container_values", {}).items():
        v = _get(values, vpath)
        if v in (None, {}, [], ""):
            continue
        cspec[field_name] = image_string(v) if field_name == "image" else copy.deepcopy(v)
        pod_paths[f"container:{cname}:{field_name}"] = where(vpath)
    container = Container(name=cname, spec=cspec, init=False, path=base)
    release = release_name(hr)
    return [Workload(name=release, namespace=hr.namespace, kind=spec["kind"], resource=hr, pod=pod,
                     containers=[container], source="chart", pod_path=base, pod_paths=pod_paths,
                     chart_version=chart_version,
                     labels={"app.kubernetes.io/name": str(chart_name), "app.kubernetes.io/instance": release})]
