"""Display lines ``(text, is_heading)`` held as one UTF-8 buffer with end offsets.

A revision of 100,000 files shows ~100,000 lines: as a list of tuples of str that is
~190 bytes a line, held as long as the viewer shows the revision; here it is the text's
bytes, 8 bytes of offset and 1 byte of flag a line (issue 17). Lines are made on demand.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import overload

# A manifest string may hold a lone surrogate (``"\ud800"`` is valid JSON): keep it as it is.
_ERRORS = "surrogatepass"


class LineTable(Sequence[tuple[str, bool]]):
    """An append-only sequence of ``(text, is_heading)`` lines, stored compactly."""

    __slots__ = ("_ends", "_headings", "_text")
    __hash__ = None  # type: ignore[assignment]  # mutable while it is built

    def __init__(self, lines: Iterable[tuple[str, bool]] = ()) -> None:
        self._text = bytearray()
        self._ends = array("Q")
        self._headings = bytearray()
        for text, heading in lines:
            self.append(text, heading)

    def append(self, text: str, heading: bool = False) -> None:
        """Add one line at the end."""
        self._text += text.encode("utf-8", _ERRORS)
        self._ends.append(len(self._text))
        self._headings.append(1 if heading else 0)

    def extend_table(self, other: LineTable) -> None:
        """Add every line of ``other`` at the end (buffers copied, no line made)."""
        shift = len(self._text)
        self._text += other._text
        self._ends.extend(end + shift for end in other._ends)
        self._headings += other._headings

    def text(self, index: int) -> str:
        """Return the text of line ``index``."""
        end = self._ends[index]  # raises IndexError past either end, as a list does
        index = index % len(self._ends)
        start = self._ends[index - 1] if index else 0
        return self._text[start:end].decode("utf-8", _ERRORS)

    def heading(self, index: int) -> bool:
        """Tell whether line ``index`` is a heading."""
        return bool(self._headings[index])

    def headings(self) -> list[int]:
        """Return the indexes of the heading lines, in order (a handful, even at 100,000 lines)."""
        found: list[int] = []
        at = self._headings.find(1)
        while at >= 0:
            found.append(at)
            at = self._headings.find(1, at + 1)
        return found

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> tuple[str, bool]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, bool]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, bool] | list[tuple[str, bool]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.text(index), self.heading(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineTable):
            return self._ends == other._ends and self._headings == other._headings and self._text == other._text
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(mine == theirs for mine, theirs in zip(self, other, strict=True))
        return NotImplemented

    def __repr__(self) -> str:
        return f"LineTable({len(self)} lines)"
