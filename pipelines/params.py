"""Declared step parameters: types, bounds, defaults, and coercion of CLI strings."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["Param"]

_TYPES = ("number", "integer", "boolean", "string")
_TRUE = {"true", "1", "yes", "on"}
#: Integers beyond this are refused even without a declared maximum: they would not survive
#: a JSON round trip (IEEE doubles) or a 64-bit database column.
SAFE_INT = 2**53 - 1
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One declared parameter of a step operation."""

    type: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    label: str = ""  # human name shown in forms ("Smallest object"); empty: from the key
    unit: str = ""  # unit of the value ("px", "px²", "x Otsu"); empty: none
    advanced: bool = False  # shown folded away in forms: rarely changed

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"parameter type must be one of {_TYPES}, got {self.type!r}")

    def describe(self, default: Any = None, *, use_default: bool = False) -> dict[str, Any]:
        """JSON-able declaration (``type``, ``default``, bounds, ``description``)."""
        out: dict[str, Any] = {
            "type": self.type,
            "default": default if use_default else self.default,
            "description": self.description,
        }
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.exclusive_minimum is not None:
            out["exclusiveMinimum"] = self.exclusive_minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices is not None:
            out["enum"] = list(self.choices)
        if self.nullable:
            out["nullable"] = True
        if self.label:
            out["label"] = self.label
        if self.unit:
            out["unit"] = self.unit
        if self.advanced:
            out["advanced"] = True
        return out

    def coerce(self, value: object) -> Any:
        """Return ``value`` as this parameter's type, checked against its bounds.

        Strings (from a CLI ``k=v``) are parsed; anything else must already have the
        right type. Raises ``ValueError`` with a short reason on a bad value.
        """
        if self.nullable and (value is None or (isinstance(value, str) and value.lower() in
                                                ("none", "null", ""))):
            return None
        if value is None:
            raise ValueError("must not be null")
        if self.type == "boolean":
            return self._boolean(value)
        if self.type == "string":
            if not isinstance(value, str):
                raise ValueError(f"must be a string, got {type(value).__name__}")
            if self.choices is not None and value not in self.choices:
                raise ValueError(f"must be one of {list(self.choices)}")
            return value
        num = self._number(value)
        self._check_bounds(num)
        return num

    def _boolean(self, value: object) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("must be a boolean (true/false)")

    def _number(self, value: object) -> int | float:
        what = "an integer" if self.type == "integer" else "a number"
        if isinstance(value, bool):
            raise ValueError(f"must be {what}")
        if isinstance(value, str):
            text = value.strip()
            try:
                value = int(text) if self.type == "integer" else float(text)
            except ValueError:
                raise ValueError(f"must be {what}") from None
        if self.type == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                raise ValueError("must be an integer")
            if abs(value) > SAFE_INT:
                raise ValueError(f"must be between {-SAFE_INT} and {SAFE_INT}")
            return value
        if not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(value) or abs(value) > SAFE_INT:
            raise ValueError("must be a finite number of reasonable size")
        return float(value)

    def _check_bounds(self, num: float) -> None:
        if self.minimum is not None and num < self.minimum:
            raise ValueError(f"must be >= {self.minimum}")
        if self.exclusive_minimum is not None and num <= self.exclusive_minimum:
            raise ValueError(f"must be > {self.exclusive_minimum}")
        if self.maximum is not None and num > self.maximum:
            raise ValueError(f"must be <= {self.maximum}")
