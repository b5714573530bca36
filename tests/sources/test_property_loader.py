"""Property-based tests (hypothesis): random YAML documents, random bytes and random repo trees
never make the loader or the scanner raise; the fast loader agrees with PyYAML."""
from __future__ import annotations

import os
import shutil
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.scanning import scan
from scanner.sources.parse import parse_files
from scanner.sources.yamlload import load_documents

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["yes", "no", "on", "off", "0x1F", "0o17", "012", "1_000", "1:30", "2024-01-02",
                     "2024-01-02T03:04:05Z", ".inf", "-.inf", "~", "=", "<<", "*x", "&a", "!tag", "${VAR}",
                     "{{ .Values.x }}", "---", "...", "# c", "é☃日本"]))
keys = st.one_of(st.text(max_size=12), st.integers(-5, 5), st.booleans(), st.sampled_from(["<<", "on", "null"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(keys, inner, max_size=5)), max_leaves=40)


def _pyyaml(text: str) -> list:
    return [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d is not None]


@SETTINGS
@given(st.lists(values, min_size=1, max_size=4), st.booleans())
def test_dumped_documents_load_like_pyyaml(docs, flow):
    text = yaml.safe_dump_all(docs, default_flow_style=flow, allow_unicode=True)
    loaded, errors = load_documents(text)
    assert not errors
    assert [d.body for d in loaded] == _pyyaml(text)  # (a dump/load round trip itself is not exact: \x85)
    assert [d.index for d in loaded] == sorted(d.index for d in loaded)


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data):
    text = data.decode("utf-8", "replace")
    docs, errors = load_documents(text)
    assert isinstance(docs, list) and isinstance(errors, list)
    docs_b, errors_b = load_documents(data)
    assert isinstance(docs_b, list) and isinstance(errors_b, list)


yaml_tokens = st.sampled_from(["a", "b", ":", " ", "\n", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "!t ",
                               "!!str ", "!!binary ", "<<: ", "? ", "|", ">", "'", '"', "#", "---\n", "...\n",
                               "  ", "1", "0x", "\t", "%YAML 1.1\n", "=", "~"])


@SETTINGS
@given(st.lists(yaml_tokens, max_size=60))
def test_yaml_shaped_noise_never_raises(tokens):
    text = "".join(tokens)
    docs, errors = load_documents(text)
    assert isinstance(docs, list) and isinstance(errors, list)
    if not errors:  # what we accept, PyYAML's own constructor agrees with (when it accepts it too)
        try:
            expected = _pyyaml(text)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            return
        assert [d.body for d in docs] == expected


# ---- random repo trees ---------------------------------------------------------------------------

names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\0"),
                min_size=1, max_size=12).filter(lambda s: s not in (".", "..", ".git"))
rel_paths = st.lists(names, min_size=1, max_size=3).map(lambda parts: "/".join(parts))


@st.composite
def repo_files(draw):
    files: dict[str, str | bytes] = {}
    dirs = draw(st.lists(rel_paths, min_size=1, max_size=5))
    for _ in range(draw(st.integers(1, 10))):
        d = draw(st.sampled_from(dirs))
        kind = draw(st.sampled_from(["kustomization", "flux", "configmap", "random", "bytes"]))
        if kind == "kustomization":
            refs = draw(st.lists(st.one_of(rel_paths, st.sampled_from([".", "..", "../..", "missing.yaml"]),
                                           st.sampled_from(dirs).map(lambda x: "../" + x)), max_size=4))
            body = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": refs}
            if draw(st.booleans()):
                body["namespace"] = draw(names)
            files[f"{d}/kustomization.yaml"] = yaml.safe_dump(body, allow_unicode=True)
        elif kind == "flux":
            spec = {"path": "./" + draw(st.sampled_from(dirs + ["nowhere"])),
                    "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}
            if draw(st.booleans()):
                spec["dependsOn"] = [{"name": draw(names)}]
            if draw(st.booleans()):
                spec["targetNamespace"] = draw(names)
            if draw(st.booleans()):
                spec["patches"] = [{"patch": draw(st.text(max_size=40)), "target": {"kind": "Kustomization"}}]
            body = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": draw(names), "namespace": "flux-system"}, "spec": spec}
            files[f"{d}/{draw(names)}.yaml"] = yaml.safe_dump(body, allow_unicode=True)
        elif kind == "configmap":
            body = {"apiVersion": "v1", "kind": draw(st.sampled_from(["ConfigMap", "Secret", "Deployment",
                                                                       "HelmRelease", "Namespace"])),
                    "metadata": {"name": draw(names), "namespace": draw(names)}, "data": draw(values)}
            files[f"{d}/{draw(names)}.yaml"] = yaml.safe_dump(body, allow_unicode=True)
        elif kind == "random":
            files[f"{d}/{draw(names)}.yaml"] = yaml.safe_dump_all(draw(st.lists(values, max_size=3)), allow_unicode=True)
        else:
            files[f"{d}/{draw(names)}.yml"] = draw(st.binary(max_size=200))
    return files


def _materialise(files: dict) -> str:
    root = tempfile.mkdtemp(prefix="posture-prop-")
    for rel, content in files.items():
        full = os.path.join(root, rel)
        try:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if isinstance(content, bytes):
                with open(full, "wb") as fh:
                    fh.write(content)
            else:
                with open(full, "w", encoding="utf-8") as fh:
                    fh.write(content)
        except (OSError, UnicodeEncodeError):
            continue  # a name the file system refuses (a file where a directory is wanted, ...)
    return root


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repo_files())
def test_random_repo_trees_never_raise(files):
    root = _materialise(files)
    try:
        run = scan(root)
        report = run.report.to_json_dict()
        assert report["scan"]["stats"]["files"] >= 0
        assert isinstance(report["errors"], list)
    finally:
        shutil.rmtree(root, ignore_errors=True)

