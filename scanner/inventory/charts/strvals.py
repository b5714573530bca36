"""Helm's `--set` parser (helm.sh/helm pkg/strvals), which helm-controller uses for a values
reference's `targetPath`: `path=value` merged into the values, commas separating further pairs,
`{a,b}` lists, `name[0]` indices, `\\` escapes, and typed values unless forced to strings."""
from __future__ import annotations

MAX_INDEX = 65536
MAX_NESTED_NAME_LEVEL = 30


class StrvalsError(ValueError):
    pass


class _EOF(Exception):
    pass


class _NotList(Exception):
    pass


def _typed(v: str, force_string: bool):
    if force_string:
        return v
    low = v.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low == "null":
        return None
    if v == "0":
        return 0
    if v and v[0] != "0":
        body = v[1:] if v[0] in "+-" else v
        if body.isdigit() and body.isascii():
            n = int(v)
            if -(1 << 63) <= n < (1 << 63):
                return n
    return v


class _Parser:
    def __init__(self, text: str, data: dict, force_string: bool):
        self.s = text
        self.i = 0
        self.data = data
        self.force_string = force_string

    def read(self) -> str:
        if self.i >= len(self.s):
            raise _EOF
        c = self.s[self.i]
        self.i += 1
        return c

    def unread(self) -> None:
        self.i -= 1

    def until(self, stop: str) -> tuple[str, str | None]:
        """Runes up to one of `stop` (consumed); `\\` escapes the next rune. At the end: (text, None)."""
        out = []
        while True:
            if self.i >= len(self.s):
                return "".join(out), None
            c = self.s[self.i]
            self.i += 1
            if c in stop:
                return "".join(out), c
            if c == "\\":
                if self.i >= len(self.s):
                    return "".join(out), None
                out.append(self.s[self.i])
                self.i += 1
            else:
                out.append(c)

    def parse(self) -> None:
        while self.i < len(self.s):
            try:
                self.key(self.data, 0)
            except _EOF:
                return

    def key(self, data: dict, level: int) -> None:
        k, last = self.until("=[,.")
        if last is None:
            if not k:
                raise _EOF
            raise StrvalsError(f"key {k!r} has no value")
        if last == "[":
            i = self.index()
            lst = data.get(k, [])
            if not isinstance(lst, list):
                raise StrvalsError(f"unable to parse key: {k!r} is not a list")
            try:
                lst = self.list_item(list(lst), i, level)
            finally:
                if k:
                    data[k] = lst
            return
        if last == "=":
            try:
                vl = self.val_list()
            except _EOF:
                if k:
                    data[k] = ""
                raise
            except _NotList:
                v, _ = self.until(",")
                if k:
                    data[k] = _typed(v, self.force_string)
                return
            if k:
                data[k] = vl
            return
        if last == ",":
            if k:
                data[k] = ""
            raise StrvalsError(f"key {k!r} has no value (cannot end with ,)")
        # last == "."
        level += 1
        if level > MAX_NESTED_NAME_LEVEL:
            raise StrvalsError(f"value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}")
        inner = data.get(k, {})
        if not isinstance(inner, dict):
            raise StrvalsError(f"unable to parse key: {k!r} is not a map")
        err = None
        try:
            self.key(inner, level)
        except (_EOF, StrvalsError) as exc:
            err = exc
        if err is None and not inner:
            raise StrvalsError(f"key map {k!r} has no value")
        if inner and k:
            data[k] = inner
        if err is not None:
            raise err

    def index(self) -> int:
        v, last = self.until("]")
        if last is None:
            raise StrvalsError("error parsing index: unexpected end")
        try:
            return int(v)
        except ValueError:
            raise StrvalsError(f"error parsing index: {v!r} is not a number") from None

    @staticmethod
    def set_index(lst: list, i: int, v) -> list:
        if i < 0:
            raise StrvalsError(f"negative {i} index not allowed")
        if i > MAX_INDEX:
            raise StrvalsError(f"index of {i} is greater than maximum supported index of {MAX_INDEX}")
        if len(lst) <= i:
            lst = lst + [None] * (i + 1 - len(lst))
        lst[i] = v
        return lst

    def list_item(self, lst: list, i: int, level: int) -> list:
        if i < 0:
            raise StrvalsError(f"negative {i} index not allowed")
        k, last = self.until("[.=")
        if k:
            raise StrvalsError(f"unexpected data at end of array index: {k!r}")
        if last is None:
            raise _EOF
        if last == "=":
            try:
                vl = self.val_list()
            except _EOF:
                return self.set_index(lst, i, "")
            except _NotList:
                v, _ = self.until(",")
                return self.set_index(lst, i, _typed(v, self.force_string))
            return self.set_index(lst, i, vl)
        if last == "[":
            nxt = self.index()
            crt = lst[i] if len(lst) > i and isinstance(lst[i], list) else []
            return self.set_index(lst, i, self.list_item(list(crt), nxt, level))
        # last == "."
        inner = lst[i] if len(lst) > i and isinstance(lst[i], dict) else {}
        self.key(inner, level)
        return self.set_index(lst, i, inner)

    def val_list(self) -> list:
        c = self.read()
        if c != "{":
            self.unread()
            raise _NotList
        out = []
        while True:
            v, last = self.until(",}")
            if last is None:
                raise StrvalsError("list must terminate with '}'")
            out.append(_typed(v, self.force_string))
            if last == "}":
                if self.i < len(self.s) and self.s[self.i] == ",":
                    self.i += 1
                return out


def parse_into(line: str, dest: dict, force_string: bool = False) -> None:
    """strvals.ParseInto / ParseIntoString: merge `line` into `dest` (in place)."""
    _Parser(line, dest, force_string).parse()


def replace_path_value(values: dict, path: str, value: str) -> None:
    """helm-controller's ReplacePathValue: a quoted value is set as a string, else typed."""
    quoted = len(value) >= 1 and ((value.startswith("'") and value.endswith("'"))
                                 or (value.startswith('"') and value.endswith('"')))
    if quoted:
        value = value.strip("'\"")
    parse_into(f"{path}={value}", values, force_string=quoted)
