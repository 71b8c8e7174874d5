"""JSON text that every reader takes: NaN and infinities written as ``null`` (``json.dumps`` writes the bare
tokens ``NaN`` and ``Infinity``, which strict parsers and browsers refuse), NumPy numbers and arrays as Python's.
Strings are never touched: a data set named ``NaNa.csv`` stays ``NaNa.csv``."""

from __future__ import annotations

import json
import re

import numpy as np

# A JSON string literal (kept as it is), or one of the non-finite tokens json.dumps writes outside strings.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN')


def dumps(value, **kwargs) -> str:
    """``json.dumps(value)`` with every non-finite number as ``null``; other keyword arguments as json's."""
    text = json.dumps(value, allow_nan=True, default=_plain, **kwargs)
    return _TOKENS.sub(lambda match: match.group(0) if match.group(0).startswith('"') else "null", text)


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
