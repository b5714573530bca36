"""Links from a finding to its file and line in the repository's web UI.

A link is made only for a forge whose URL scheme is known (GitHub, GitLab, Gitea/Forgejo) and only
pinned to the scanned commit: a link to a branch would show a file that has moved on since the scan.
Credentials in a remote URL (`https://user:token@host/...`) never reach a report. Anything else
(an unknown host, no commit, a live-cluster object) gets no link: the page shows the path relative
to the repository root.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
SAFE_URL = re.compile(r"^https?://[^\s\"'<>\x00-\x1f]+$", re.IGNORECASE)

# host (exact or suffix) -> forge kind; self-hosted instances are recognised by a name part.
_KNOWN_HOSTS = {"github.com": "github", "gitlab.com": "gitlab", "codeberg.org": "gitea", "gitea.com": "gitea"}
_NAME_HINTS = (("github", "github"), ("gitlab", "gitlab"), ("forgejo", "gitea"), ("gitea", "gitea"))
# How each forge addresses a file at a commit, and a line in it.
_BLOB = {"github": "/blob/", "gitlab": "/-/blob/", "gitea": "/src/commit/"}
_COMMIT_PAGE = {"github": "/commit/", "gitlab": "/-/commit/", "gitea": "/commit/"}


def strip_credentials(url: str | None) -> str | None:
    """The URL without user:password@ (and without a query or fragment), or None if it is not http(s)."""
    if not isinstance(url, str) or not SAFE_URL.match(url):
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return None
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return urlunsplit((parts.scheme.lower(), netloc, path, "", ""))


def forge_kind(web_url: str | None) -> str | None:
    """"github", "gitlab", "gitea" (Forgejo too) or None for a host we do not know the URLs of."""
    if not web_url:
        return None
    host = (urlsplit(web_url).hostname or "").lower()
    for known, kind in _KNOWN_HOSTS.items():
        if host == known or host.endswith("." + known):
            return kind
    for hint, kind in _NAME_HINTS:
        if hint in host:
            return kind
    return None


@dataclass(frozen=True)
class Forge:
    """Where the scanned commit can be browsed. `subdir` is the scanned folder inside the repository
    (report paths are relative to the folder; the forge wants them relative to the repository)."""

    web_url: str
    kind: str
    commit: str
    subdir: str = ""

    def file_url(self, path: str | None, line: int | None = None) -> str | None:
        if not path or "://" in path or path.startswith("/") or ".." in path.split("/"):
            return None
        path = path[2:] if path.startswith("./") else path
        if path in ("", "."):
            return None
        if self.subdir:
            path = f"{self.subdir}/{path}"
        url = f"{self.web_url}{_BLOB[self.kind]}{self.commit}/{quote(path, safe='/')}"
        return f"{url}#L{line}" if isinstance(line, int) and not isinstance(line, bool) and line >= 1 else url

    def commit_url(self) -> str:
        return f"{self.web_url}{_COMMIT_PAGE[self.kind]}{self.commit}"


def from_report(report: dict, override_url: str | None = None) -> Forge | None:
    """The forge of the report's first git source (or `override_url`), when its links can be made."""
    scan = report.get("scan") or {}
    git = next((s for s in scan.get("sources") or [] if isinstance(s, dict) and s.get("type") == "git"), {})
    web = strip_credentials(override_url) or strip_credentials(git.get("web_url"))
    commit = git.get("commit") or scan.get("git_commit")
    kind = forge_kind(web)
    if not (web and kind and isinstance(commit, str) and _COMMIT.match(commit)):
        return None
    subdir = str(git.get("subdir") or "").strip("/")
    if subdir in (".",) or ".." in subdir.split("/") or "://" in subdir:
        subdir = ""
    return Forge(web, kind, commit, subdir)
