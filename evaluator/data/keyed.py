"""Look up lines of a ``<key> <value>`` table file (Kaldi's ``wav.scp``, ``segments``, ``utt2spk``...)
by key without holding the file in memory.

Kaldi keeps these files sorted by key (``LC_ALL=C sort``, byte order). Opening one scans it once and
keeps the first key and byte offset of every :data:`BLOCK`-th line; a lookup finds the block by
bisection and parses that block (the last few are cached, so a shard's consecutive utterances cost one
read). A file that is not sorted is read into a dict instead (memory grows with its size).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict

from evaluator.data import paths

__all__ = ["BLOCK", "KeyedFile"]

BLOCK = 1024
_CACHED_BLOCKS = 4


def _split(raw: bytes) -> tuple[str, str]:
    key, _, rest = raw.decode("utf-8", errors="replace").strip().partition(" ")
    return key, rest.strip()


class KeyedFile:
    """``key -> (value, line number)`` of a table file; an absent file is an empty table."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._keys: list[bytes] = []
        self._offsets: list[tuple[int, int]] = []
        self._whole: dict[str, tuple[str, int]] | None = None
        self._cache: OrderedDict[int, dict[str, tuple[str, int]]] = OrderedDict()
        self.present = paths.exists(path)
        if not self.present:
            self._whole = {}
            return
        previous = b""
        offset = 0
        count = 0
        with paths.open_binary(path) as fh:
            for number, raw in enumerate(fh, start=1):
                key = raw.split(maxsplit=1)[0] if raw.strip() else b""
                if key:
                    if key < previous:  # not sorted: hold it whole
                        self._whole = self._read_all()
                        return
                    if count % BLOCK == 0:
                        self._keys.append(key)
                        self._offsets.append((offset, number))
                    previous = key
                    count += 1
                offset += len(raw)

    def __bool__(self) -> bool:
        return self.present

    def _read_all(self) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        with paths.open_binary(self.path) as fh:
            for number, raw in enumerate(fh, start=1):
                key, rest = _split(raw)
                if key:
                    out[key] = (rest, number)
        return out

    def _block(self, index: int) -> dict[str, tuple[str, int]]:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        offset, number = self._offsets[index]
        block: dict[str, tuple[str, int]] = {}
        with paths.open_binary(self.path) as fh:
            fh.seek(offset)
            for raw in fh:
                key, rest = _split(raw)
                if key:
                    if len(block) >= BLOCK:
                        break
                    block[key] = (rest, number)
                number += 1
        self._cache[index] = block
        while len(self._cache) > _CACHED_BLOCKS:
            self._cache.popitem(last=False)
        return block

    def get(self, key: str) -> tuple[str, int] | None:
        """(value, line number) of ``key``, or None."""
        if self._whole is not None:
            return self._whole.get(key)
        index = bisect.bisect_right(self._keys, key.encode()) - 1
        if index < 0:
            return None
        return self._block(index).get(key)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None
