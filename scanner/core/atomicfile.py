"""Files written whole or not at all, for the caches: the bytes go to a temporary file beside the
target, which is then renamed into place (atomic), so a reader (another scan) sees the old entry
or the new one, never a part of one."""
from __future__ import annotations

import os
import tempfile


def write_atomic(path: str, data: bytes, dir_mode: int = 0o777) -> None:
    """Write `data` to `path` (its directory made with `dir_mode` if missing). Raises OSError; no
    temporary file is left behind."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
