"""junkai_geo: geospatial beat planning for patrol liaison (巡回連絡)."""

from .errors import (
    InputError,
    JunkaiGeoError,
    NetworkError,
    ParameterError,
    Problem,
    ProblemError,
    SolverError,
)

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "JunkaiGeoError",
    "NetworkError",
    "ParameterError",
    "Problem",
    "ProblemError",
    "SolverError",
    "__version__",
]
