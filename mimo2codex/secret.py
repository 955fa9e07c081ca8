"""Secret: an API key or token whose repr and str never show the value."""

from __future__ import annotations


class Secret:
    """Holds a secret; ``repr``/``str``/f-strings show a masked form, :meth:`reveal` the value.

    >>> key = Secret("sk-abcdef123456")
    >>> print(key)
    sk-…3456
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        value = self._value
        if len(value) <= 8:
            return "…" * bool(value)
        prefix = value[:3] if value[2:3] == "-" else ""
        return f"{prefix}…{value[-4:]}"

    def __repr__(self) -> str:
        return f"Secret('{self.masked()}')"

    def __str__(self) -> str:
        return self.masked()

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key in clear (e.g. to a multiprocessing pipe or a cache file).
        raise TypeError("Secret values cannot be pickled")
