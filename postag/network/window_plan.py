"""Where the windows of a long sentence start, and which window each token is read from
(``postag.network.windows``). Pure Python, so that the torch-free runtime cuts the same windows.

A sentence longer than ``size`` is cut into windows of ``size`` tokens, each starting
``size // 2`` after the last; each token takes its output from the window in which it is most
central, so it sees at least a quarter window of context on each side (but at the sentence's ends).
"""

from __future__ import annotations

from typing import NamedTuple


class WindowPlan(NamedTuple):
    count: int  # K windows
    step: int  # tokens between the starts of two windows
    size: int  # L tokens a window
    owner: list[int]  # (S,) the window each token is read from
    offset: list[int]  # (S,) its place in that window

    @property
    def padded_length(self) -> int:
        """Tokens the windows cover: the sentence, padded at its end to fill the last window."""
        return (self.count - 1) * self.step + self.size

    def columns(self) -> list[list[int]]:
        """(K, L): the sentence position at each place of each window."""
        return [[k * self.step + i for i in range(self.size)] for k in range(self.count)]


def window_plan(length: int, size: int) -> WindowPlan:
    """The windows of a sentence of ``length`` tokens, each of at most ``size``."""
    step = max(1, size // 2)
    count = 1 if length <= size else -(-(length - size) // step) + 1
    owner = [min(max((p - size // 4) // step, 0), count - 1) for p in range(length)]
    return WindowPlan(count, step, size, owner, [p - w * step for p, w in enumerate(owner)])
