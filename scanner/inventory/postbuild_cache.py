"""Post-build substitution answers kept between scans, keyed by exactly what decides them.

Flux substitutes an object's YAML text, so the scanner serialises each object that holds a `$`,
expands it and parses the result back: on a warm rescan of the target repo that round trip was a
fifth of the scan, for answers that had not changed. An answer depends only on the object and the
Kustomization's substitution settings, so both are the key (SHA-256 of their canonical JSON), and an
edit anywhere else leaves it valid. Like the parse cache, one pack per scanned folder holds the answers
its last scan used (read once, written once at the end, renamed into place): an answer no longer asked
for drops out. Secrets are never stored (their bodies may hold values), nor an answer holding a URL
credential or a token shape. A cache that cannot be read or written only costs time.
"""
from __future__ import annotations

import hashlib
import json
import os

from scanner import __version__
from scanner.core.packfile import pack_path, read_pack, save_pack
from scanner.core.secretdata import may_hold_secret_text
from scanner.inventory import postbuild
from scanner.inventory.postbuild import Substitution, SubstitutedObject

FORMAT = 3  # bumped when the stored shape or the substitution's semantics change


class CachedPostBuild:
    """The `scanner.inventory.postbuild` functions the walk uses, with substitution answers cached."""

    settings_for = staticmethod(postbuild.settings_for)

    def __init__(self, cache_dir: str, root: str):
        self.path = pack_path(cache_dir, "postbuild", FORMAT, os.path.realpath(root))
        self._old = read_pack(self.path)  # key -> the answer's JSON bytes, from the previous scan
        self._new: dict[str, bytes] = {}  # the answers this scan used or made
        self.hits = 0
        self.misses = 0

    def substitute_object(self, obj: dict, sub: Substitution) -> SubstitutedObject:
        if not isinstance(obj, dict) or sub.errors or not sub.enabled or obj.get("kind") == "Secret":
            return postbuild.substitute_object(obj, sub)  # a Secret is never stored
        text = _canonical(obj)
        if text is None:
            return postbuild.substitute_object(obj, sub)
        if "$" not in text:  # (every string of the object, keys included, is in its JSON text)
            return SubstitutedObject(obj)  # what substitute_object answers for an object without a `$`
        key = _key(text, sub)
        cached = self._get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        result = postbuild.substitute_object(obj, sub)
        self._put(key, result)
        return result

    def _get(self, key: str) -> SubstitutedObject | None:
        blob = self._new.get(key) or self._old.get(key)
        try:
            data = json.loads(blob)  # a new object each time: later stages may change a body in place
            if not isinstance(data.get("body"), dict):
                return None
            answer = SubstitutedObject(data["body"], frozenset(data["undefined"]), frozenset(data["unreadable"]),
                                       data["error"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        self._new[key] = blob
        return answer

    def _put(self, key: str, result: SubstitutedObject) -> None:
        try:
            blob = json.dumps({"body": result.body, "undefined": sorted(result.undefined),
                               "unreadable": sorted(result.unreadable), "error": result.error}).encode()
            if json.loads(blob)["body"] != result.body:  # a body JSON cannot hold as is (non-string keys)
                return
            if may_hold_secret_text(blob.decode("utf-8", "surrogatepass")):
                return  # a credential-shaped value or URL credential is never copied out of the repo
        except (TypeError, ValueError):
            return
        self._new[key] = blob

    def save(self) -> None:
        """Write this scan's pack if it differs from the one read (best effort)."""
        save_pack(self.path, self._old, self._new)


def _canonical(obj: dict) -> str | None:
    """The object's canonical JSON (None when JSON cannot hold it: it is then not cached)."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def _key(object_text: str, sub: Substitution) -> str:
    settings = {
        "format": FORMAT,
        "scanner": __version__,  # a release may read the same inputs differently
        "variables": sub.variables,
        "unreadable": sorted(sub.unreadable),
        "opaque": bool(sub.opaque_sources),  # (is_unreadable only asks whether there are any)
        "strict": sub.strict,
    }
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" + object_text
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()
