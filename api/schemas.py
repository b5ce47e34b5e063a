"""Request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from junkai_geo.model import CardStatus, HouseholdKind, Outcome

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ID = Field(min_length=1, max_length=64)

#: Days the service plans and records: far enough either way for any real
#: round, near enough that date arithmetic (a plan's week, a card's expiry)
#: never leaves the calendar.
MIN_DAY, MAX_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _day_in_range(value: date) -> date:
    if not MIN_DAY <= value <= MAX_DAY:
        raise ValueError(f"found {value.isoformat()}; expected a day from {MIN_DAY} to {MAX_DAY}")
    return value


#: A day in a request (path, query or body).
Day = Annotated[date, AfterValidator(_day_in_range)]


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_lone_surrogate(v) for v in value)
    return False


class InputModel(BaseModel):
    """A request body: finite numbers and valid Unicode only.

    JSON allows ``NaN`` / ``Infinity`` literals (Python's parser reads them)
    and ``\\ud800`` escapes that are no character; both are refused here
    with 422 instead of failing later in the planner or the database.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        if _lone_surrogate(data):
            raise ValueError("text holds a lone surrogate (U+D800-U+DFFF); expected valid Unicode")
        return data


class ValidationItem(BaseModel):
    """Where and why a request was refused (no input echoed back)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error answer: a short sentence, or for a request that does not
    fit its schema the list of what does not."""

    detail: str | list[ValidationItem]


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    schema_version: str | None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class ApiKeyIn(InputModel):
    label: str = Field(default="", max_length=128)


class ApiKeyOut(BaseModel):
    api_key: str
    label: str
    id: int
    expires_at: datetime | None


class ApiKeyInfo(BaseModel):
    """A key as listed: never its secret."""

    id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class PasswordChangeIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class PasswordResetIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    new_password: str = Field(min_length=8, max_length=256)


class UserIn(InputModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=256)
    role: Literal["officer", "manager", "admin"]
    officer_id: str | None = Field(default=None, max_length=64)
    station: str | None = Field(default=None, max_length=64)


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    officer_id: str | None
    station: str | None
    active: bool


class MeOut(BaseModel):
    username: str
    role: str
    officer_id: str | None
    station: str | None
    beat_ids: list[str] | None = Field(description="null: the whole prefecture")
    koban_ids: list[str] | None
    sees_personal: bool


class KobanOut(BaseModel):
    koban_id: str
    name: str
    kind: str
    station: str
    lon: float
    lat: float


class BeatVersionOut(BaseModel):
    version: int
    created_at: datetime
    source: str
    job_id: str | None
    note: str
    current: bool


class BeatOut(BaseModel):
    beat_id: str
    koban_id: str
    name: str
    locked: bool
    version: int
    households: int


class BeatDetail(BeatOut):
    geometry: dict[str, Any] | None = Field(description="GeoJSON geometry, WGS84")


class OfficerOut(BaseModel):
    officer_id: str
    koban_id: str
    role: str
    beat_id: str | None
    mode: str
    shift_pattern: str


class BuildingOut(BaseModel):
    building_id: str
    kind: str
    floors: int
    units: int
    complex_id: str | None
    lon: float
    lat: float


class HouseholdOut(BaseModel):
    """A household in lists and maps: never any personal field."""

    household_id: str
    kind: str
    beat_id: str | None
    building_id: str | None
    floor: int
    address: str
    lon: float
    lat: float
    card_status: CardStatus
    occupancy: str
    last_contact: date | None
    absences: int
    visits: int


class HouseholdDetail(HouseholdOut):
    registered_on: date | None
    personal: dict[str, Any] | None = Field(
        description="personal fields; only for the beat's officer and the station's manager"
    )


class NearHousehold(HouseholdOut):
    distance_m: float


class VisitIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    household_id: str = ID
    visited_on: Day
    time: str = Field(pattern=HHMM, description="HH:MM, local time")
    outcome: Outcome
    officer_id: str | None = Field(
        default=None, max_length=64, description="defaults to the calling officer"
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="or the Idempotency-Key header; one of them is required",
    )


class VisitOut(BaseModel):
    visit_id: str
    household_id: str
    officer_id: str
    visited_on: Day
    time: str
    outcome: Outcome
    created_at: datetime
    replayed: bool = Field(
        default=False,
        description="true when an earlier request with this idempotency key already registered it",
    )
    card_status: CardStatus
    occupancy: str


class NightApprovalIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: str = ID
    on_date: Day
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)


class NightApprovalOut(BaseModel):
    id: int
    officer_id: str
    on_date: Day
    start: str
    end: str
    approved_by: int
    created_at: datetime
    revoked_at: datetime | None


class ProblemOut(BaseModel):
    file: str
    row: str | int | None
    field: str | None
    found: str
    expected: str
    code: str


class ImportOut(BaseModel):
    id: int
    layer: str
    filename: str
    status: str
    rows: int
    problems: int
    at: datetime


class SurveyRow(BaseModel):
    """One beat in the April beat survey (受持区実態調査)."""

    beat_id: str
    koban_id: str
    station: str
    households: int = Field(description="occupied households (世帯等)")
    buildings: int
    books: int = Field(description="簿冊: ceil(cards / cards_per_book)")
    cards: int
    kind_home: int
    kind_business: int
    kind_public: int
    card_none: int
    card_current: int
    card_stale: int
    vacant: int
    moved_out: int


class SurveyOut(BaseModel):
    as_of: date
    version: int | None
    cards_per_book: int
    beats: list[SurveyRow]
    totals: SurveyRow


class AuditOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str
    role: str
    action: str
    resource: str
    resource_id: str
    client_ip: str
    detail: dict[str, Any] | None


__all__ = ["HouseholdKind"]


class ImportRejected(BaseModel):
    """422 of /imports: every problem found; nothing was stored."""

    detail: str | list[ValidationItem]
    file: str | None = Field(default=None, description="absent when the request itself was bad")
    layer: str | None = None
    problem_count: int = Field(
        default=0, description="all problems found; `problems` lists the first 1,000"
    )
    problems: list[ProblemOut] = Field(default_factory=list)


class PlanPlace(BaseModel):
    lon: float
    lat: float
    label: str


class PlanHousehold(BaseModel):
    household_id: str
    kind: str
    floor: int
    unit: str = Field(default="", description="the door: the address after the building")
    card_status: str
    reasons: list[str]
    expected_contact: float


class PlanStop(BaseModel):
    order: int
    building_id: str | None
    address: str
    lon: float
    lat: float
    arrival: str
    departure: str
    households: list[PlanHousehold]
    path: list[list[float]]


class PlanOut(BaseModel):
    """``DayPlan.to_dict()`` (docs/plan_format.md): no personal field ever."""

    officer_id: str
    koban_id: str | None
    beat_id: str | None
    date: date
    start: PlanPlace
    end: PlanPlace
    windows: list[list[str]]
    travel_source: str
    travel_mode: str
    stops: list[PlanStop]
    skipped: list[dict[str, str]]
    totals: dict[str, float]
    notes: list[str]
    night_windows: list[dict[str, Any]] = Field(
        default_factory=list, description="approved night windows without a visit, and why"
    )


class ReplanIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    now: str = Field(pattern=HHMM, description="HH:MM, local time")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    done: list[str] = Field(
        default_factory=list, max_length=500, description="households already visited today"
    )
    windows: list[str] | None = Field(default=None, max_length=6)


class RebalanceIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    station: str | None = Field(
        default=None, max_length=64, description="admin: a station or null for all; manager: theirs"
    )
    n_beats: int | None = Field(default=None, ge=1, le=1000)
    mode: Literal["minimal-change", "best-balance"] = Field(
        default="minimal-change",
        description="the smallest change within the tolerance, or the most even beats",
    )
    tolerance: float = Field(
        default=0.10, gt=0, le=1, description="largest deviation of a beat from the mean"
    )
    time_limit_s: float = Field(default=30.0, gt=0, le=600)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class RebalanceJobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled", "accepted", "rejected"]
    progress: float = Field(description="share of the time budget used while running")
    message: str
    station: str | None
    base_version: int
    created_at: datetime
    params: dict[str, Any] | None
    result: dict[str, Any] | None = Field(
        description="figures, moved units and assignment (polygons: /beats after accepting)"
    )
    new_version: int | None = None


class OfficerProgressOut(BaseModel):
    officer_id: str
    koban_id: str
    station: str
    role: str
    beat_id: str | None
    attempts: int
    contacts: int
    cards_made: int
    cards_corrected: int
    beat_households: int
    households_attempted: int
    coverage: float | None
    unknown_start: int
    unknown_end: int
    weekly: list[dict[str, Any]]
    peer_median: float | None
    peer_group: str
    lagging: bool
    reason: str
    suggested_focus_days: list[date]


class ProgressOut(BaseModel):
    """``junkai_geo.progress.ProgressResult.to_dict()``."""

    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(alias="from")
    to: date
    lag_ratio: float
    officers: list[OfficerProgressOut]
    flagged: list[str]
    notes: list[str]


class SpecialistReportOut(BaseModel):
    """``junkai_geo.specialists.SpecialistReport.to_dict()`` (see docs/specialists.md)."""

    model_config = ConfigDict(extra="allow")
    today: date
    districts_total: int
    districts: list[dict[str, Any]]
    buildings: dict[str, Any]
    officers: list[dict[str, Any]]
    recommendation: dict[str, Any]
    rounds: list[dict[str, Any]]
    notes: list[str]
    time_s: float


class CalendarIn(InputModel):
    """A calendar job: the koban's routes over ``weeks`` (with a coverage
    forecast), or with ``kind = new_officer`` a new officer's plan of
    ``beat_id`` area by area."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["calendar", "new_officer"] = "calendar"
    koban_id: str = Field(min_length=1, max_length=64)
    beat_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="new_officer: the beat to cover"
    )
    start: Day
    weeks: int = Field(default=4, ge=1, le=8)
    focus_days: list[date] = Field(
        default_factory=list, max_length=56, description="巡回連絡強化日 of the koban"
    )
    day_time_limit_s: float = Field(
        default=0.3, gt=0, le=5, description="time limit of each officer-day's route"
    )
    forecast_runs: int = Field(default=200, ge=1, le=1000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class CalendarJobOut(BaseModel):
    id: str
    kind: Literal["calendar", "new_officer"]
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(description="while running: elapsed share of the estimated time")
    message: str
    koban_id: str
    beat_id: str | None
    start: Day
    created_at: datetime
    params: dict[str, Any] | None
    result: dict[str, Any] | None = Field(
        description="calendar (compact, docs/calendar.md) and forecast, or new_officer; "
        "an officer gets their own days and beat only"
    )
