"""Build outcomes kept by the content of their inputs.

The key of a request is a digest of: the engine's format, the scanner's version, the kustomize
that builds it (or the native builder), the build path, the Flux overlay, and every file the plan
reads with its SHA-256 (plus the paths it looked up and did not find, since a file appearing
changes the build). A warm rescan after editing one app therefore rebuilds that app alone.
Entries are JSON files written atomically (a temp file renamed into place: a reader sees a whole
entry or none, and two scans writing one key write the same bytes, so no lock is needed); an entry
that cannot be read is ignored. An outcome holding a Secret with a plain value, a URL with
credentials or a token shape is not stored (SOPS ciphertext is): a secret value must never be
written outside the repo.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os

from scanner import __version__
from scanner.core.atomicfile import write_atomic
from scanner.core.model import ScanError
from scanner.core.secretdata import holds_plain_secret_data, may_hold_secret_text
from scanner.inventory.builder.model import BuildOutcome, BuildRequest, BuiltObject, Gap
from scanner.inventory.builder.plan import Plan
from scanner.inventory.builder.repo import RepoView

FORMAT = 3  # bumped when a cached outcome's shape or meaning changes (3: a failure caused by unfetched remotes is a gap)


def request_key(plan: Plan, repo: RepoView, builder_id: str) -> str:
    overlay = dataclasses.asdict(plan.request.overlay)
    material = {
        "format": FORMAT,
        "scanner": __version__,  # a release may read the same inputs differently
        "builder": builder_id,
        "path": plan.root,
        "overlay": overlay,
        "files": sorted((p, repo.sha256(p)) for p in plan.files_used),
        "absent": sorted(plan.absent),
    }
    blob = json.dumps(material, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def _holds_secret_data(outcome: BuildOutcome) -> bool:
    return any(holds_plain_secret_data(obj.body) for obj in outcome.objects)


class BuildCache:
    def __init__(self, cache_dir: str):
        self.dir = os.path.join(cache_dir, "kustomize-builds")
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> str:
        return os.path.join(self.dir, key[:2], key + ".json")

    def get(self, key: str, request: BuildRequest) -> BuildOutcome | None:
        try:
            with open(self._path(key), "rb") as fh:
                data = json.loads(fh.read())
            outcome = BuildOutcome(
                request=request,
                objects=[BuiltObject(o["body"], o["source_path"], o["generated_by"]) for o in data["objects"]],
                how=data["how"],
                errors=[ScanError(e["path"], e["line"], e["message"], e["kind"], e.get("code", "")) for e in data["errors"]],
                gaps=[Gap(g["code"], g["path"], g["subject"], g["message"]) for g in data["gaps"]],
                files_used=set(data["files_used"]),
                degraded=bool(data["degraded"]),
                cached=True,
            )
            if not all(isinstance(o.body, dict) for o in outcome.objects):
                raise ValueError("not an object")
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return outcome

    def put(self, key: str, outcome: BuildOutcome) -> None:
        if _holds_secret_data(outcome):
            return
        data = {
            "objects": [{"body": o.body, "source_path": o.source_path, "generated_by": o.generated_by}
                        for o in outcome.objects],
            "how": outcome.how,
            "errors": [e.as_dict() for e in outcome.errors],
            "gaps": [dataclasses.asdict(g) for g in outcome.gaps],
            "files_used": sorted(outcome.files_used),
            "degraded": outcome.degraded,
        }
        text = json.dumps(data, default=str, ensure_ascii=False)
        if may_hold_secret_text(text):
            return  # a credential-shaped value or URL credential is never copied out of the repo
        try:
            write_atomic(self._path(key), text.encode("utf-8", "surrogatepass"), dir_mode=0o700)
        except OSError:
            pass  # a cache that cannot be written only costs time
