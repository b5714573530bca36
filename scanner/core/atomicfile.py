"""Files written whole or not at all, for the caches: the bytes go to a temporary file beside the
target, which is then renamed into place (atomic), so a reader (another scan) sees the old entry
or the new one, never a part of one."""
from __future__ import annotations

import os
import tempfile


def write_atomic(path: str, data: bytes, dir_mode: int = 0o777, *, durable: bool = False,
                 prefix: str = ".tmp-", suffix: str = "") -> None:
    """Write `data` to `path` (its directory made with `dir_mode` if missing). Raises OSError; no
    temporary file is left behind. `durable`: the bytes are fsynced before the rename (a file the
    user keeps, such as their posture.yaml; a cache entry can be lost in a crash at no cost)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
