"""`SlotRecord`: equality and repr from `__slots__`, for the few plain classes that must load without the
dataclasses module (what the console script's early helper imports before it parses; see
scanner.rawparse). Nothing is imported here."""


class SlotRecord:
    """A value class whose fields are its `__slots__`: equal when of the same class with equal fields,
    printed as `Name(field=value, ...)`, unhashable (mutable), like a plain dataclass."""

    __slots__ = ()
    __hash__ = None

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"
