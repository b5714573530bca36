"""Cache packs: named by what decides how they read, read as {} when missing or damaged, written only
when this scan used other entries than the pack held, never half-written."""
from __future__ import annotations

import marshal

from scanner.core.packfile import pack_path, read_pack, save_pack


def test_a_pack_round_trips_and_is_written_only_when_its_keys_change(tmp_path):
    path = pack_path(str(tmp_path), "parsed", 1, "/repo")
    assert path != pack_path(str(tmp_path), "parsed", 2, "/repo") != pack_path(str(tmp_path), "parsed", 1, "/other")
    assert read_pack(path) == {}
    entries = {b"k": ((1, 0, {"a": (1, 2)}, None), ()), "s": b"bytes"}
    save_pack(path, {}, entries)
    assert read_pack(path) == entries  # tuples, bytes and key types kept exactly
    save_pack(path, entries, {b"k": "other value", "s": None})  # same keys: not written again
    assert read_pack(path) == entries
    save_pack(path, entries, {b"k": 1})
    assert read_pack(path) == {b"k": 1}
    assert len(list((tmp_path / "parsed").iterdir())) == 1  # the pack alone: no temporary file left


def test_damaged_packs_read_as_empty_and_unmarshalable_entries_keep_the_old_pack(tmp_path):
    path = pack_path(str(tmp_path), "postbuild", 3, "/repo")
    save_pack(path, {}, {"a": 1})
    save_pack(path, {"a": 1}, {"b": object()})  # marshal cannot hold it
    assert read_pack(path) == {"a": 1}
    for damaged in (b"", b"not marshal", marshal.dumps([1, 2])):
        with open(path, "wb") as fh:
            fh.write(damaged)
        assert read_pack(path) == {}
