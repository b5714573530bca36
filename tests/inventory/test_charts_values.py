"""helm-controller's values merge and Helm's strvals parser, case by case against their documented results."""
from __future__ import annotations

import pytest

from scanner.inventory.charts.semver import best, satisfies
from scanner.inventory.charts.strvals import StrvalsError, parse_into, replace_path_value
from scanner.inventory.charts.values import merge_maps, merged_values
from tests.support.charts import lookup_of


@pytest.mark.parametrize("line,expected", [
    ("name=value", {"name": "value"}),
    ("a.b.c=1", {"a": {"b": {"c": 1}}}),
    ("a=true,b=FALSE,c=null,d=0,e=012,f=-7", {"a": True, "b": False, "c": None, "d": 0, "e": "012", "f": -7}),
    ("list={x,y,2}", {"list": ["x", "y", 2]}),
    ("arr[1]=b", {"arr": [None, "b"]}),
    ("arr[0].name=n", {"arr": [{"name": "n"}]}),
    (r"dotted\.key=v", {"dotted.key": "v"}),
    (r"esc=a\,b", {"esc": "a,b"}),
    ("empty=", {"empty": ""}),
])
def test_strvals_parse_into(line, expected):
    dest: dict = {}
    parse_into(line, dest)
    assert dest == expected


def test_strvals_errors_like_helm():
    with pytest.raises(StrvalsError, match="has no value"):
        parse_into("novalue", {})
    with pytest.raises(StrvalsError, match="has no value"):
        parse_into("a=b,c", {})  # a comma in an unquoted target-path value starts another key


def test_target_path_quoted_values_stay_strings_and_merge_into_existing_maps():
    values = {"ingress": {"enabled": True}}
    replace_path_value(values, "ingress.port", "8080")
    replace_path_value(values, "ingress.tag", '"8080"')
    assert values == {"ingress": {"enabled": True, "port": 8080, "tag": "8080"}}


def test_merge_maps_replaces_lists_and_scalars_and_merges_maps():
    assert merge_maps({"a": {"x": 1, "l": [1, 2]}, "b": 1}, {"a": {"y": 2, "l": [3]}, "b": {"c": 1}}) == \
        {"a": {"x": 1, "y": 2, "l": [3]}, "b": {"c": 1}}


def test_values_from_in_order_then_spec_values_on_top():
    cms = [{"kind": "ConfigMap", "metadata": {"name": "one", "namespace": "ns"},
            "data": {"values.yaml": "a: 1\nb: {x: 1}\n", "other": "b:\n  y: 2\n"}},
           {"kind": "ConfigMap", "metadata": {"name": "two", "namespace": "ns"}, "data": {"v": "a: 2\n"}}]
    spec = {"valuesFrom": [{"kind": "ConfigMap", "name": "one"}, {"kind": "ConfigMap", "name": "one", "valuesKey": "other"},
                           {"kind": "ConfigMap", "name": "two", "valuesKey": "v"},
                           {"kind": "ConfigMap", "name": "two", "valuesKey": "v", "targetPath": "c.d"},
                           {"kind": "ConfigMap", "name": "gone", "optional": True},
                           {"kind": "ConfigMap", "name": "one", "valuesKey": "missing", "optional": True}],
            "values": {"b": {"x": 9}}}
    mv = merged_values(spec, "ns", lookup_of(cms))
    assert mv.values == {"a": 2, "b": {"x": 9, "y": 2}, "c": {"d": "a: 2\n"}}
    assert mv.problems == [] and mv.gaps == []
    assert mv.origins == {"a": "valuesFrom[2]", "b": "spec.values", "c": "valuesFrom[3]"}


def test_values_from_never_crosses_namespaces():
    cm = {"kind": "ConfigMap", "metadata": {"name": "one", "namespace": "elsewhere"}, "data": {"values.yaml": "a: 1"}}
    mv = merged_values({"valuesFrom": [{"kind": "ConfigMap", "name": "one"}]}, "ns", lookup_of([cm]))
    assert mv.values == {} and len(mv.problems) == 1 and "ns/one" in mv.problems[0]


@pytest.mark.parametrize("constraint,expected", [
    ("*", "2.0.0"), ("1.2.x", "1.2.9"), ("~1.2", "1.2.9"), ("^1.2.3", "1.3.0"), ("^0.2", "0.2.5"),
    (">=1.2 <2", "1.3.0"), ("1.2 - 1.3", "1.3.0"), ("<=1.2", "1.2.9"), ("2.x || 0.x", "2.0.0"),
    ("2.1.0-rc.1", "2.1.0-rc.1"), (">=2.1.0-0", "2.1.0-rc.1"), ("1.2.3", "1.2.3"), (">3", None),
])
def test_semver_constraints(constraint, expected):
    versions = ["1.0.0", "1.2.3", "1.2.9", "1.3.0", "2.0.0", "2.1.0-rc.1", "0.2.5", "0.3.0"]
    assert best(versions, constraint) == expected


def test_prereleases_need_a_constraint_that_names_one():
    assert not satisfies("2.1.0-rc.1", ">=2.0.0")
    assert satisfies("2.1.0-rc.1", ">=2.0.0-0")
