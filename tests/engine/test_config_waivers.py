"""posture.yaml: validation errors name the field; waivers apply until they expire."""
from __future__ import annotations

import datetime as dt

import pytest

from scanner.engine import config as config_mod
from tests.support.scanning import scan
from tests.support.repos import PRIVILEGED_DEPLOYMENT, flux_repo

PRIV = PRIVILEGED_DEPLOYMENT


@pytest.mark.parametrize("data,field", [
    ({"weights": {"nope": 1}}, "weights.nope"),
    ({"weights": {"secrets": -1}}, "weights.secrets"),
    ({"waivers": [{"check": "x"}]}, "waivers[0].reason"),
    ({"waivers": [{"check": "x", "reason": "r", "expires": "soon"}]}, "waivers[0].expires"),
    ({"waivers": [{"check": "x", "reason": "r", "why": 1}]}, "why"),
    ({"bogus": 1}, "bogus"),
    ({"disabled": "workloads.x"}, "disabled"),
])
def test_invalid_config_names_the_field(data, field):
    with pytest.raises(config_mod.ConfigError) as exc:
        config_mod.parse(data, "posture.yaml")
    assert field in str(exc.value)


def _check(report, cid):
    return next(c for c in report["checks"] if c["id"] == cid)


def test_active_waiver_applies_and_expired_waiver_is_reported(tmp_path):
    flux_repo(tmp_path, {"media": {"ups.yaml": PRIV}})
    (tmp_path / "posture.yaml").write_text(
        "waivers:\n"
        "  - {check: workloads.no-privileged-containers, resource: 'Deployment/media/ups', reason: UPS needs USB, expires: 2030-01-01}\n")
    today = dt.date(2027, 1, 1)
    rep = scan(str(tmp_path), only=["workloads.no-privileged-containers"], today=today).report.to_json_dict()
    c = _check(rep, "workloads.no-privileged-containers")
    assert [f["status"] for f in c["findings"]] == ["waived"]
    assert c["findings"][0]["waiver"] == {"reason": "UPS needs USB", "expires": "2030-01-01", "owner": None,
                                             "status": "fail"}
    assert c["status"] == "pass" and c["score"] == 100.0
    assert rep["waivers"][0]["matched"] == 1 and rep["waivers"][0]["expired"] is False

    rep = scan(str(tmp_path), only=["workloads.no-privileged-containers"], today=dt.date(2030, 1, 2)).report.to_json_dict()
    c = _check(rep, "workloads.no-privileged-containers")
    assert [f["status"] for f in c["findings"]] == ["fail"]
    assert "expired" in c["findings"][0]["evidence"]["expired_waiver"]
    assert rep["waivers"][0]["expired"] is True


def test_disabled_checks_and_layer_weights(tmp_path):
    flux_repo(tmp_path, {"media": {"ups.yaml": PRIV}})
    (tmp_path / "posture.yaml").write_text("disabled: [workloads.no-privileged-containers]\nweights: {workloads: 0}\n")
    rep = scan(str(tmp_path)).report.to_json_dict()
    assert "workloads.no-privileged-containers" not in {c["id"] for c in rep["checks"]}
    assert rep["score"]["layers"]["workloads"]["weight"] == 0.0
