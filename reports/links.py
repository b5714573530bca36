"""Links from a report into the scanned repository's web UI (for HTML, Markdown and the like).

Only plain http(s) URLs ever become links: a `javascript:` web_url or reference stays text."""
from __future__ import annotations

import re
from urllib.parse import quote

from scanner.engine.report_model import Report

_SAFE_URL = re.compile(r"^https?://[^\s\"'<>\x00-\x1f]+$", re.IGNORECASE)
_SAFE_COMMIT = re.compile(r"[0-9A-Za-z._/-]+")


def safe_url(url: object) -> str | None:
    return url if isinstance(url, str) and _SAFE_URL.match(url) else None


def repo_link_base(report: Report, web_url: str | None = None) -> tuple[str | None, str | None]:
    """(web_url, commit) for file links: `web_url` overrides the first git source's URL."""
    git = next((s for s in report.scan.sources if s.type == "git"), None)
    web = safe_url(web_url) or safe_url(git.web_url if git else None)
    commit = (git.commit if git else None) or report.scan.git_commit
    if web:
        web = web.rstrip("/")
    return web, (commit if isinstance(commit, str) and _SAFE_COMMIT.fullmatch(commit) else None)


def source_href(web: str | None, commit: str | None, path: str | None, line: int | None) -> str | None:
    """`{web}/blob/{commit}/{path}#L{line}` for repo files; live-cluster paths get no link."""
    if not (web and commit and path) or "://" in path or path.startswith("/"):
        return None
    path = path[2:] if path.startswith("./") else path
    href = f"{web}/blob/{commit}/{quote(path, safe='/')}"
    return f"{href}#L{line}" if isinstance(line, int) and line >= 1 else href
