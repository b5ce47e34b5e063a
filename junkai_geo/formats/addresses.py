"""Household lists by address (住所): placeholder until the locator lands."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .common import NationalRead


def is_address_list(path: Path) -> bool:
    return False


class AddressReference:
    @classmethod
    def bundled(cls) -> AddressReference:
        raise NotImplementedError

    @classmethod
    def from_mlit(cls, paths: Any) -> AddressReference:
        raise NotImplementedError


def geocode_households(
    path: str | os.PathLike[str], reference: AddressReference, *, encoding: str | None = None
) -> NationalRead:
    raise NotImplementedError
