"""A codec for tests that prove a message is decoded once: the real one, counting its costly steps."""

from __future__ import annotations

from collections import Counter
from typing import Any, TypeVar

from lxml import etree

from evgrid.cim.codec import Codec

T = TypeVar("T")


class CountingCodec(Codec):
    """The real codec, counting parses, schema validations, decodes (a parse and a validation each) and bindings."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def parse(self, data: bytes | str) -> etree._Element:
        self.calls["parse"] += 1
        return super().parse(data)

    def validate(self, root: etree._Element) -> None:
        self.calls["validate"] += 1
        super().validate(root)

    def decode(self, data: bytes | str) -> Any:
        self.calls["decode"] += 1
        return super().decode(data)

    def bind(self, element: etree._Element, cls: type[T]) -> T:
        self.calls["bind"] += 1
        return super().bind(element, cls)
