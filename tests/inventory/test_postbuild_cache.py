"""Substitution answers kept between scans: the same answer as substituting afresh, keyed by the object
and the settings (a change to either is a miss), never a Secret on disk, a body JSON cannot hold is
not stored, and the pack keeps only the answers its last scan used."""
from __future__ import annotations

import marshal
from pathlib import Path

from scanner.inventory.postbuild import Substitution, substitute_object
from scanner.inventory.postbuild_cache import CachedPostBuild

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
          "spec": {"replicas": "${REPLICAS}", "template": {"spec": {"containers": [
              {"name": "app", "image": "ghcr.io/example/web:${TAG:=1.0}", "env": [{"name": "T", "value": "${TOKEN}"}]}]}}}}


def sub(**variables) -> Substitution:
    return Substitution(variables=dict(variables), unreadable={"TOKEN"}, enabled=True)


ROOT = "/repos/example"  # the scanned folder: one pack each


def stored(cache: CachedPostBuild) -> list[str]:
    """The keys of the pack `cache` writes (saved now)."""
    cache.save()
    path = Path(cache.path)
    return sorted(marshal.loads(path.read_bytes())) if path.exists() else []


def cache_in(cache_dir: Path) -> CachedPostBuild:
    return CachedPostBuild(str(cache_dir), ROOT)


def test_a_cached_answer_is_the_fresh_answer_and_settings_are_part_of_the_key(tmp_path):
    settings = sub(REPLICAS="3")
    fresh = substitute_object(DEPLOY, settings)
    first = cache_in(tmp_path)
    assert first.substitute_object(DEPLOY, settings) == fresh and first.misses == 1
    first.save()
    second = cache_in(tmp_path)
    again = second.substitute_object(DEPLOY, settings)
    assert second.hits == 1 and again == fresh
    assert again.body["spec"]["replicas"] == 3  # the type change Flux's text round trip makes survives
    assert again.unreadable == frozenset({"TOKEN"})
    other = second.substitute_object(DEPLOY, sub(REPLICAS="5"))
    assert second.misses == 1 and other.body["spec"]["replicas"] == 5
    strict = Substitution(variables={"REPLICAS": "3"}, enabled=True, strict=True)
    assert second.substitute_object(DEPLOY, strict) == substitute_object(DEPLOY, strict)
    assert second.misses == 2


def test_secrets_and_bodies_json_cannot_hold_are_never_stored(tmp_path):
    cache = cache_in(tmp_path)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "apps"},
              "stringData": {"password": "${PASSWORD}"}}
    assert cache.substitute_object(secret, sub(PASSWORD="hunter2")).body["stringData"]["password"] == "hunter2"
    assert stored(cache) == []
    int_keys = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps"},
                "data": {"a": "${A}"}, "extra": {1: "one"}}
    result = cache.substitute_object(int_keys, sub(A="x"))
    assert result == substitute_object(int_keys, sub(A="x"))
    assert stored(cache) == []


def test_nothing_to_substitute_writes_nothing_and_a_damaged_entry_is_a_miss(tmp_path):
    cache = cache_in(tmp_path)
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}, "data": {"a": "b"}}
    assert cache.substitute_object(plain, sub()).body is plain
    assert stored(cache) == []
    cache.substitute_object(DEPLOY, sub(REPLICAS="3"))
    [key] = stored(cache)
    Path(cache.path).write_bytes(marshal.dumps({key: b"{not json"}))
    again = cache_in(tmp_path)
    assert again.substitute_object(DEPLOY, sub(REPLICAS="3")) == substitute_object(DEPLOY, sub(REPLICAS="3"))
    assert again.misses == 1


def test_objects_json_cannot_sort_are_substituted_uncached_and_disabled_ones_untouched(tmp_path):
    cache = cache_in(tmp_path)
    mixed = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "apps"},
             "data": {"a": "${A}"}, "extra": {1: "one", "two": 2}}  # int and str keys: no canonical JSON
    assert cache.substitute_object(mixed, sub(A="x")) == substitute_object(mixed, sub(A="x"))
    assert cache.substitute_object(mixed, sub(A="x")).body["data"]["a"] == "x"
    assert stored(cache) == []
    off = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "d", "namespace": "apps",
                        "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}},
           "data": {"a": "${A}"}}
    assert cache.substitute_object(off, sub(A="x")) == substitute_object(off, sub(A="x"))
    assert cache.substitute_object(off, sub(A="x")).body["data"]["a"] == "${A}"


def test_the_pack_keeps_the_answers_a_scan_used_and_each_answer_is_a_new_object(tmp_path):
    a, b = sub(REPLICAS="1"), sub(REPLICAS="2")
    first = cache_in(tmp_path)
    first.substitute_object(DEPLOY, a)
    first.substitute_object(DEPLOY, b)
    assert len(stored(first)) == 2
    second = cache_in(tmp_path)  # the next scan asks only for the first answer
    one, two = second.substitute_object(DEPLOY, a), second.substitute_object(DEPLOY, a)
    assert second.hits == 2 and one == two and one.body is not two.body  # stages may edit a body in place
    assert len(stored(second)) == 1  # the answer no scan asked for is gone
    other_folder = CachedPostBuild(str(tmp_path), ROOT + "-other")
    assert other_folder.path != second.path
    other_folder.substitute_object(DEPLOY, a)
    assert other_folder.misses == 1
    Path(second.path).write_bytes(b"not a marshal pack")
    damaged = cache_in(tmp_path)
    assert damaged.substitute_object(DEPLOY, a) == substitute_object(DEPLOY, a) and damaged.misses == 1
