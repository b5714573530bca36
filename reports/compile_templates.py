"""`python -m reports.compile_templates`: compile the HTML report's templates into the package's
read-only template cache, once at set-up (`make` runs it after compileall, for the same reason: a
scan should not compile what the installation could have). A missing or stale cache only costs time:
jinja recompiles a template whose source changed since."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from reports.html import INSTALLED_TEMPLATE_CACHE, TEMPLATES, _env


def compile_templates(directory: Path = INSTALLED_TEMPLATE_CACHE) -> list[str]:
    """Compile every template into `directory` (jinja's own bytecode cache); the names compiled."""
    os.makedirs(directory, exist_ok=True)
    env = _env(str(directory), read_installed=False)  # written here, not read from an older copy
    names = sorted(p.name for p in TEMPLATES.glob("*.j2"))
    for name in names:
        env.get_template(name)
    return names


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else INSTALLED_TEMPLATE_CACHE
    try:
        compiled = compile_templates(target)
    except OSError as exc:  # a read-only installation: scans compile into the user's cache instead
        print(f"report templates not compiled into {target}: {exc.strerror or exc}", file=sys.stderr)
        return 0
    print(f"compiled {len(compiled)} report templates")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
