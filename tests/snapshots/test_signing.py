"""Ed25519 signing: keygen, valid / tampered / wrong key / unsigned, and the verify/keygen commands."""
from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from scanner.cli.snapshots import keygen as keygen_cmd
from scanner.cli.snapshots import verify as verify_cmd
from scanner.snapshots import SnapshotError
from scanner.snapshots import archive as arc
from scanner.snapshots.signing import canonical_json, keygen, load_private_key, load_public_key, verify_file
from tests.support.snapshots import homelab_report


@pytest.fixture
def signed(tmp_path):
    key, pub = keygen(str(tmp_path / "posture"))
    entry = arc.store(tmp_path / "arc", homelab_report(), sign_key=key)
    return tmp_path / "arc" / entry["file"], key, pub


def test_keygen_writes_a_private_key_only_the_owner_can_read(tmp_path):
    old = os.umask(0)  # a permissive umask must not leak into the private key's mode
    try:
        key, pub = keygen(str(tmp_path / "posture"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8 PEM
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == \
        load_public_key(pub).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_keygen_refuses_to_overwrite(tmp_path):
    keygen(str(tmp_path / "a"))
    before = (tmp_path / "a.key").read_bytes()
    with pytest.raises(SnapshotError, match="refusing to overwrite"):
        keygen(str(tmp_path / "a"))
    assert (tmp_path / "a.key").read_bytes() == before
    (tmp_path / "b.pub").write_text("someone's key")
    with pytest.raises(SnapshotError, match="b.pub already exists"):
        keygen(str(tmp_path / "b"))
    assert not (tmp_path / "b.key").exists()


def test_valid_signature_and_canonical_encoding(signed):
    snap, key, pub = signed
    assert verify_file(snap, load_public_key(pub)).status == "valid"
    # The signature covers RFC 8785 canonical JSON, so other tools can verify it.
    import rfc8785

    obj = json.loads(snap.read_bytes())
    expected = rfc8785.dumps(obj)
    assert canonical_json(obj) == expected
    sig = base64.b64decode(Path(str(snap) + ".sig").read_bytes())
    load_public_key(pub).verify(sig, expected)  # raises if not


def test_reformatting_keeps_the_signature_valid(signed):
    snap, _, pub = signed
    snap.write_text(json.dumps(json.loads(snap.read_text()), indent=7, sort_keys=True))
    assert verify_file(snap, load_public_key(pub)).status == "valid"


@pytest.mark.parametrize("tamper", [
    lambda r: r["score"].__setitem__("overall", 99.0),
    lambda r: r["checks"][0]["findings"].pop(0),
    lambda r: r["checks"][0]["findings"][0].__setitem__("status", "waived"),
    lambda r: r["scan"].__setitem__("started_at", "2025-01-01T00:00:00Z"),
])
def test_tampered_snapshot_is_invalid(signed, tamper):
    snap, _, pub = signed
    report = json.loads(snap.read_text())
    tamper(report)
    snap.write_text(json.dumps(report, indent=2))
    verdict = verify_file(snap, load_public_key(pub))
    assert verdict.status == "invalid" and verdict.exit_code == 1
    assert "INVALID" in verdict.message


def test_duplicate_keys_cannot_smuggle_a_value(signed):
    snap, _, pub = signed
    text = snap.read_text()
    # A parser that keeps the first value would show 99; ours refuses the file outright.
    snap.write_text(text.replace('"schema_version": "1.0"', '"schema_version": "9.9", "schema_version": "1.0"', 1))
    assert verify_file(snap, load_public_key(pub)).status == "invalid"


def test_wrong_key_is_invalid(signed, tmp_path):
    snap, _, _ = signed
    _, other_pub = keygen(str(tmp_path / "other"))
    assert verify_file(snap, load_public_key(other_pub)).status == "invalid"


def test_unsigned_and_garbage_signatures(signed, tmp_path):
    snap, _, pub = signed
    sig = Path(str(snap) + ".sig")
    sig.write_text("not base64 !!!")
    assert verify_file(snap, load_public_key(pub)).status == "invalid"
    sig.write_bytes(base64.b64encode(b"short"))
    assert verify_file(snap, load_public_key(pub)).status == "invalid"
    sig.unlink()
    verdict = verify_file(snap, load_public_key(pub))
    assert verdict.status == "unsigned" and verdict.exit_code == 2


def test_bad_keys_are_clear_errors(tmp_path):
    (tmp_path / "rsa.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SnapshotError, match="cannot load signing key"):
        load_private_key(tmp_path / "rsa.key")
    with pytest.raises(SnapshotError, match="cannot load public key"):
        load_public_key(tmp_path / "missing.pub")
    # a store with an unusable key writes nothing
    with pytest.raises(SnapshotError):
        arc.store(tmp_path / "arc", homelab_report(), sign_key=tmp_path / "rsa.key")
    assert list((tmp_path / "arc" / "snapshots").iterdir()) == []


def test_verify_command_exit_codes(signed, tmp_path):
    snap, _, pub = signed
    runner = CliRunner()
    ok = runner.invoke(verify_cmd, [str(snap), "--key", str(pub)])
    assert ok.exit_code == 0 and "VALID" in ok.output
    latest = runner.invoke(verify_cmd, [f"archive:{tmp_path / 'arc'}@latest", "--key", str(pub)])
    assert latest.exit_code == 0
    _, other = keygen(str(tmp_path / "other"))
    wrong = runner.invoke(verify_cmd, [str(snap), "--key", str(other)])
    assert wrong.exit_code == 1 and "INVALID" in wrong.output
    report = json.loads(snap.read_text())
    report["score"]["overall"] = 100.0
    snap.write_text(json.dumps(report))
    assert runner.invoke(verify_cmd, [str(snap), "--key", str(pub)]).exit_code == 1
    Path(str(snap) + ".sig").unlink()
    unsigned = runner.invoke(verify_cmd, [str(snap), "--key", str(pub)])
    assert unsigned.exit_code == 2 and "UNSIGNED" in unsigned.output
    missing = runner.invoke(verify_cmd, [str(tmp_path / "nope.json"), "--key", str(pub)])
    assert missing.exit_code == 2 and "no such snapshot" in missing.output


def test_keygen_command(tmp_path):
    runner = CliRunner()
    first = runner.invoke(keygen_cmd, [str(tmp_path / "ci")])
    assert first.exit_code == 0 and "ci.key" in first.output
    again = runner.invoke(keygen_cmd, [str(tmp_path / "ci")])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_signatures_use_rfc8785_and_older_signatures_still_verify(signed, tmp_path):
    import rfc8785

    from scanner.snapshots.signing import legacy_canonical_json, sign

    snap, key, pub = signed
    obj = json.loads(snap.read_bytes())
    private = load_private_key(key)
    assert canonical_json(obj) == rfc8785.dumps(obj)
    assert canonical_json({"score": 100.0}) == b'{"score":100}'  # JCS number text, not Python's "100.0"
    # A snapshot signed before RFC 8785 (Python's canonical form) keeps verifying ...
    snap.with_name(snap.name + ".sig").write_bytes(base64.b64encode(private.sign(legacy_canonical_json(obj))) + b"\n")
    assert verify_file(snap, load_public_key(pub)).status == "valid"
    # ... and an edit is caught under either form.
    obj["score"]["overall"] = 99.0
    snap.write_text(json.dumps(obj))
    assert verify_file(snap, load_public_key(pub)).status == "invalid"
    # A value JCS cannot encode (an integer past 2^53) is signed in the older form, not refused.
    big = {"n": 2**60}
    assert sign(big, private) and canonical_json(big) == legacy_canonical_json(big)


def test_the_chain_hashes_the_bytes_signatures_cover():
    # store() signs and hashes one encoding (JCS takes most of a second on a large report); should
    # the signatures' canonical form ever change, chain format 1 must keep its own.
    from scanner.snapshots import chain

    report = homelab_report()
    report["errors"].append({"path": "caf\udce9.yaml", "line": 1, "message": "a non-UTF-8 name", "kind": "input"})
    for obj in (homelab_report(), report, {"big": 2**60, "f": 72.5}):
        assert chain.canonical(obj) == canonical_json(obj)
