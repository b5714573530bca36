"""Talos configuration kept as templates is read as far as it is plain YAML, on the template's own lines."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

from scanner.analysis import talos, talos_templates
from scanner.inventory.model import build_inventory
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files
from tests.support.repos import write as write_file


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        write_file(root, rel, text)
    return root


def inventory(root: Path):
    fs = discover(str(root))
    docs, errors = parse_files(fs.root, fs.yaml_files)
    return build_inventory(os.path.abspath(root), docs, fs.files, fs.errors + errors)


JINJA_TALCONFIG = """
    ---
    clusterName: {{ cluster_name }}
    talosVersion: "{{ talos_version }}"
    kubernetesVersion: v1.35.0
    endpoint: https://{{ cluster_api_addr }}:6443
    {% if cluster_schedule_on_cp %}
    allowSchedulingOnControlPlanes: true
    {% endif %}
    nodes:
    {% for node in nodes %}
      - hostname: "{{ node.name }}"
        ipAddress: "{{ node.address }}"
        controlPlane: true
    {% endfor %}
    controlPlane:
      patches:
        - "@./patches/controller/cluster.yaml"
        - "@./patches/controller/admission.yaml"
    """


def test_detemplate_blanks_statement_lines_and_keeps_line_numbers():
    text = "a: 1\n{% if x %}\nb: {{ y }}\n{{- if .Values.z }}\nc: 3\n{{ end }}\n{# a\ncomment #}\nd: 4\n"
    plain, tokens, blanked = talos_templates.detemplate(text)
    lines = plain.split("\n")
    assert len(lines) == len(text.split("\n"))
    assert blanked == [2, 4, 6, 7, 8]
    assert lines[0] == "a: 1" and lines[4] == "c: 3" and lines[8] == "d: 4"
    assert list(tokens.values()) == ["{{ y }}"] and lines[2] == f"b: {next(iter(tokens))}"


def test_makejinja_delimiters_and_go_include_lines():
    text = "#% if a %#\nx: #{ v }#\n#| note |#\n  {{ include \"labels\" . | nindent 4 }}\ny: 1\n"
    plain, tokens, blanked = talos_templates.detemplate(text)
    assert blanked == [1, 3, 4] and list(tokens.values()) == ["#{ v }#"]
    assert plain.split("\n")[4] == "y: 1"


def test_template_talconfig_and_patches_build_a_cluster(tmp_path):
    write(tmp_path, {
        "templates/talos/talconfig.yaml.j2": JINJA_TALCONFIG,
        "templates/talos/patches/controller/cluster.yaml.j2": """
            cluster:
              apiServer:
                admissionControl:
            {% if psa_privileged %}
                  - name: PodSecurity
                    configuration:
                      defaults:
                        enforce: privileged
            {% endif %}
              etcd:
                extraArgs:
                  listen-metrics-urls: http://0.0.0.0:2381
            """,
        "templates/talos/patches/controller/admission.yaml.j2": """
            - op: remove
              path: /cluster/apiServer/admissionControl
            """,
    })
    inv = inventory(tmp_path)
    [cluster] = talos.clusters(inv)
    assert cluster.talconfig.path == "templates/talos/talconfig.yaml.j2"
    assert cluster.name is None  # `{{ cluster_name }}` is not a name
    assert cluster.templates == ["templates/talos/patches/controller/admission.yaml.j2",
                                 "templates/talos/patches/controller/cluster.yaml.j2",
                                 "templates/talos/talconfig.yaml.j2"]
    [cfg] = cluster.configs
    assert cfg.get("cluster", "allowSchedulingOnControlPlanes") is True  # both branches of an `if` stay
    assert cfg.get("cluster", "etcd", "extraArgs", "listen-metrics-urls") == "http://0.0.0.0:2381"
    assert cfg.get("cluster", "apiServer", "admissionControl") is None  # the JSON patch removed it
    loc = cfg.location(inv, "cluster", "etcd", "extraArgs", "listen-metrics-urls")
    assert (loc.path, loc.line) == ("templates/talos/patches/controller/cluster.yaml.j2", 12)
    assert [n["hostname"] for n in cluster.nodes] == ["{{ node.name }}"]


def test_yaml_talconfig_with_template_lines_is_read(tmp_path):
    text = textwrap.dedent(JINJA_TALCONFIG).replace('        - "@./patches/controller/admission.yaml"\n', "")
    write(tmp_path, {"talos/talconfig.yaml": text + "worker:\n  patches: []\n"})
    inv = inventory(tmp_path)
    assert any(e.path == "talos/talconfig.yaml" for e in inv.errors)  # not YAML as it stands
    [cluster] = talos.clusters(inv)
    assert cluster.talconfig.path == "talos/talconfig.yaml"
    assert "talos/patches/controller/cluster.yaml: patch '@./patches/controller/cluster.yaml' not found" not in \
        cluster.errors  # the error names the talconfig, not the patch
    assert any("not found" in e for e in cluster.errors)


def test_rendered_talconfig_wins_over_its_template(tmp_path):
    write(tmp_path, {
        "templates/talos/talconfig.yaml.j2": JINJA_TALCONFIG,
        "talos/talconfig.yaml": """
            clusterName: home
            talosVersion: v1.12.0
            kubernetesVersion: v1.35.0
            endpoint: https://10.0.0.10:6443
            nodes: [{hostname: cp1, ipAddress: 10.0.0.11, controlPlane: true}]
            """,
    })
    inv = inventory(tmp_path)
    assert [c.talconfig.path for c in talos.clusters(inv)] == ["talos/talconfig.yaml"]


def test_a_template_that_stays_broken_is_read_per_document(tmp_path):
    write(tmp_path, {"talos/patches/a.yaml.tmpl": "machine:\n  kubelet:\n    image: {{ .Image }}\n"
                                                  "---\ncluster:\n  apiServer: [unclosed\n",
                     "talos/broken.yaml": "machine:\n  kubelet: [unclosed\n"})
    [read] = talos_templates.talos_templates(inventory(tmp_path))  # broken.yaml has no template syntax: not one
    assert [d.body for d in read.documents] == [{"machine": {"kubelet": {"image": "{{ .Image }}"}}}]
    assert read.unread and read.unread[0].startswith("line ")
