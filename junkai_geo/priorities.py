"""Why each household matters today: value, chance of contact, reason codes.

The rules of patrol liaison (巡回連絡) put households without a card
(未把握世帯) first, stale cards next, and single out large 団地 and high-rise
buildings. Repeated absences (不在) at one time of day move a household to
other times: weekends and holidays (巡回連絡強化日) or evenings.

Every number is a field of :class:`PriorityParams` (loadable from the TOML
table ``[priorities]``); docs/routing.md gives the model with every default.

Reason codes (column ``reasons``, a list per household):

``no_card``
    未把握: never met, no liaison card.
``stale_card``
    the card is older than ``stale_after_months``; ``months_since_contact``
    holds its age in months.
``card_update``
    a current card whose last contact is older than ``recent_contact_days``:
    a routine update, the lowest value.
``large_complex``
    in a 団地 or a complex of at least ``large_complex_min_units`` units.
``highrise``
    in a building of at least ``highrise_min_floors`` floors.
``absent_history``
    absent (不在) at least once in the last ``history_days``.
``recent_contact_excluded``
    met within ``recent_contact_days``: not a candidate.
``moved_out_excluded``, ``vacant_excluded``
    the household moved out (転出) or the dwelling is vacant (空家): never a
    candidate.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError, Problem
from .settings import check_positive

#: Day types of the contact-probability model.
DAY_TYPES: tuple[str, ...] = ("weekday", "weekend_or_holiday")
#: Time slots of the contact-probability model.
SLOTS: tuple[str, ...] = ("morning", "afternoon", "evening")
#: Every reason code a household can carry, in the order they are listed.
REASON_CODES: tuple[str, ...] = (
    "no_card",
    "stale_card",
    "card_update",
    "large_complex",
    "highrise",
    "absent_history",
    "recent_contact_excluded",
    "moved_out_excluded",
    "vacant_excluded",
)

# Outcomes that show somebody was at home. A refusal (拒否) means the door was
# answered, so it counts as "home" for the contact model.
_HOME_OUTCOMES = ("met", "refused")
_ABSENT_OUTCOMES = ("absent",)


def _default_prior() -> dict[str, dict[str, list[float]]]:
    # Prior chance that somebody answers, per household kind, day type and
    # slot [morning, afternoon, evening]. Homes: many residents work on
    # weekdays, so weekday daytime is lowest and evenings highest. Businesses
    # and public buildings keep office hours on weekdays.
    return {
        "home": {"weekday": [0.45, 0.50, 0.75], "weekend_or_holiday": [0.60, 0.60, 0.75]},
        "business": {"weekday": [0.85, 0.85, 0.30], "weekend_or_holiday": [0.35, 0.35, 0.15]},
        "public": {"weekday": [0.90, 0.90, 0.20], "weekend_or_holiday": [0.25, 0.25, 0.10]},
    }


@dataclass(frozen=True)
class PriorityParams:
    """Weights of the priority model; values are dimensionless points.

    Attributes
    ----------
    no_card_points
        Value of a 未把握 household (no card).
    stale_base_points, stale_points_per_month, stale_max_points
        Value of a stale card: the base when it just turned stale, plus so
        much per month beyond ``stale_after_months``, capped (kept below
        ``no_card_points`` so that 未把握 always comes first).
    current_points
        Value of a current card whose last contact is older than
        ``recent_contact_days``.
    stale_after_months, recent_contact_days
        Card age that makes a card stale; contact age under which a current
        card is not a candidate.
    large_complex_min_units, large_complex_weight
        A 団地 building, or a building / complex (same ``complex_id``) with at
        least this many units, multiplies the value by the weight.
    highrise_min_floors, highrise_weight
        A building of at least this many floors (or kind ``highrise``)
        multiplies the value by the weight. A household in both gets the
        larger of the two weights, not their product.
    afternoon_from, evening_from
        ``HH:MM`` where the afternoon and the evening slots begin.
    prior_p_contact
        Prior chance of contact per kind, day type and slot
        ``[morning, afternoon, evening]``.
    prior_strength_visits
        Weight of the prior, in pseudo-visits (Beta prior
        ``a = k p0``, ``b = k (1 - p0)``).
    other_slot_weight
        How much a visit at another day type or slot counts for this one
        (0: not at all, 1: the same).
    history_days
        Visits older than this are ignored by the contact model.
    min_p_contact
        Floor of the contact probability, so a household is never written off.
    min_unknown_home_share, share_top_n
        On any day, among the ``share_top_n`` candidates of highest expected
        value per second of service (value x contact probability / service
        time, as the routing ranks them), at least this share are 未把握
        homes when there are that many: their value is raised by one common
        factor (column ``home_share_boost``) until it holds. Businesses are
        easier to meet on weekdays; this keeps the homes without a card from
        vanishing from weekday plans (0 turns the rule off).
    """

    no_card_points: float = 100.0
    stale_base_points: float = 50.0
    stale_points_per_month: float = 2.0
    stale_max_points: float = 90.0
    current_points: float = 20.0
    stale_after_months: int = 24
    recent_contact_days: int = 180
    large_complex_min_units: int = 50
    large_complex_weight: float = 1.25
    highrise_min_floors: int = 6
    highrise_weight: float = 1.25
    afternoon_from: str = "12:00"
    evening_from: str = "17:00"
    prior_p_contact: dict[str, dict[str, list[float]]] = field(default_factory=_default_prior)
    prior_strength_visits: float = 4.0
    other_slot_weight: float = 0.25
    history_days: int = 730
    min_p_contact: float = 0.02
    min_unknown_home_share: float = 0.3
    share_top_n: int = 60

    def __post_init__(self) -> None:
        check_positive(
            self,
            "no_card_points",
            "stale_base_points",
            "stale_max_points",
            "current_points",
            "stale_after_months",
            "recent_contact_days",
            "large_complex_min_units",
            "large_complex_weight",
            "highrise_min_floors",
            "highrise_weight",
            "prior_strength_visits",
            "history_days",
            "min_p_contact",
        )
        if self.stale_points_per_month < 0:
            raise ParameterError(
                f"PriorityParams.stale_points_per_month: found {self.stale_points_per_month!r}; "
                "expected a number >= 0"
            )
        if not self.stale_max_points < self.no_card_points:
            raise ParameterError(
                f"PriorityParams.stale_max_points: found {self.stale_max_points!r}; expected "
                f"less than no_card_points ({self.no_card_points!r}) so 未把握 comes first"
            )
        if not 0 <= self.other_slot_weight <= 1:
            raise ParameterError(
                f"PriorityParams.other_slot_weight: found {self.other_slot_weight!r}; "
                "expected a number in [0, 1]"
            )
        if not 0 <= self.min_unknown_home_share <= 1:
            raise ParameterError(
                f"PriorityParams.min_unknown_home_share: found {self.min_unknown_home_share!r}; "
                "expected a share in [0, 1]"
            )
        if not (isinstance(self.share_top_n, int) and self.share_top_n > 0):
            raise ParameterError(
                f"PriorityParams.share_top_n: found {self.share_top_n!r}; expected an integer > 0"
            )
        if not self.min_p_contact < 1:
            raise ParameterError(
                f"PriorityParams.min_p_contact: found {self.min_p_contact!r}; expected < 1"
            )
        a = _minutes(self.afternoon_from, "PriorityParams.afternoon_from")
        e = _minutes(self.evening_from, "PriorityParams.evening_from")
        if not a < e:
            raise ParameterError(
                f"PriorityParams.evening_from: found {self.evening_from!r}; expected later "
                f"than afternoon_from ({self.afternoon_from!r})"
            )
        for kind in ("home", "business", "public"):
            table = self.prior_p_contact.get(kind)
            if not isinstance(table, Mapping):
                raise ParameterError(
                    f"PriorityParams.prior_p_contact.{kind}: found {table!r}; expected a "
                    "table with keys weekday and weekend_or_holiday"
                )
            for dt in DAY_TYPES:
                row = table.get(dt)
                ok = (
                    isinstance(row, list | tuple)
                    and len(row) == len(SLOTS)
                    and all(isinstance(v, int | float) and 0 < v < 1 for v in row)
                )
                if not ok:
                    raise ParameterError(
                        f"PriorityParams.prior_p_contact.{kind}.{dt}: found {row!r}; expected "
                        "3 probabilities in (0, 1) for [morning, afternoon, evening]"
                    )

    def prior(self, kind: str, day_type: str, slot: str) -> float:
        """Prior contact probability of ``kind`` at ``day_type`` and ``slot``."""
        return float(self.prior_p_contact[kind][day_type][SLOTS.index(slot)])


def _minutes(text: str, name: str) -> int:
    try:
        hh, mm = str(text).split(":")[:2]
        value = int(hh) * 60 + int(mm)
    except ValueError:
        raise ParameterError(f"{name}: found {text!r}; expected HH:MM") from None
    if not 0 <= value <= 24 * 60:
        raise ParameterError(f"{name}: found {text!r}; expected a time of day HH:MM")
    return value


@functools.lru_cache(maxsize=8192)
def is_holiday(d: date) -> bool:
    """True on a Japanese public holiday (国民の祝日 and substitutes), by jpholiday."""
    import jpholiday

    return bool(jpholiday.is_holiday(d))


def day_type(d: date, *, focus_days: tuple[date, ...] | frozenset[date] = ()) -> str:
    """``"weekend_or_holiday"`` on Saturdays, Sundays, public holidays and
    the given focus days (巡回連絡強化日); ``"weekday"`` otherwise."""
    # Weekends first: jpholiday costs about a millisecond per new date.
    if d.weekday() >= 5 or d in focus_days or is_holiday(d):
        return "weekend_or_holiday"
    return "weekday"


def slot_of(
    when: str | time | tuple[str | time, str | time], params: PriorityParams | None = None
) -> str:
    """The slot (morning / afternoon / evening) of a time or of a window's midpoint.

    ``when`` is a slot name, a time (``time`` or ``"HH:MM"``), or a window
    ``(start, end)`` whose midpoint decides.
    """
    params = params or PriorityParams()
    if isinstance(when, str) and when in SLOTS:
        return when
    if isinstance(when, tuple | list):
        if len(when) != 2:
            raise ParameterError(f"slot: found {when!r}; expected (start, end)")
        minute = (_as_minutes(when[0]) + _as_minutes(when[1])) / 2
    else:
        minute = _as_minutes(when)
    return _slot_of_minutes(np.asarray([minute]), params)[0]


def _as_minutes(t: str | time) -> float:
    if isinstance(t, time):
        return t.hour * 60 + t.minute + t.second / 60
    if isinstance(t, str):
        parts = t.strip().split(":")
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            nums = []
        if 2 <= len(nums) <= 3 and 0 <= nums[0] <= 24 and 0 <= nums[1] < 60:
            return nums[0] * 60 + nums[1] + (nums[2] / 60 if len(nums) == 3 else 0)
    raise ParameterError(f"time: found {t!r}; expected HH:MM, HH:MM:SS or a slot name {SLOTS}")


def _slot_of_minutes(minutes: np.ndarray, params: PriorityParams) -> np.ndarray:
    a = _minutes(params.afternoon_from, "afternoon_from")
    e = _minutes(params.evening_from, "evening_from")
    # Early-morning visits (before the afternoon) count as morning, late-night
    # ones as evening: the model has three slots only.
    idx = np.where(minutes < a, 0, np.where(minutes < e, 1, 2))
    return np.asarray(SLOTS, dtype=object)[idx]


def _ids(series: pd.Series) -> pd.Series:
    return series.astype(str)


def _normalise_cards(cards: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Cards re-indexed on ``ids`` with status, occupancy and last_contact."""
    table = cards
    if "household_id" in table.columns:
        table = table.set_index(table["household_id"].astype(str))
    else:
        table = table.set_axis(table.index.astype(str), axis=0)
    problems = [
        Problem(
            "cards",
            None,
            col,
            "no such column",
            f"a column {col!r} (see card_table)",
            "missing_column",
        )
        for col in ("status", "occupancy", "last_contact")
        if col not in table.columns
    ]
    if problems:
        raise InputError(problems)
    table = table[~table.index.duplicated(keep="last")]
    out = table.reindex(ids)[["status", "occupancy", "last_contact"]].copy()
    missing = out["status"].isna()
    if missing.any():
        first = list(ids[missing.to_numpy()][:5])
        raise InputError(
            Problem(
                "cards",
                ", ".join(first),
                "household_id",
                f"{int(missing.sum())} household(s) without a card row",
                "one row per household (card_table gives one for every household)",
                "missing_card",
            )
        )
    out["status"] = out["status"].astype(str)
    out["occupancy"] = out["occupancy"].astype(str)
    out["last_contact"] = pd.to_datetime(out["last_contact"], errors="coerce")
    return out


def _member(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """``values.isin(pool)`` by hashing (pandas' isin on Arrow strings loops in Python)."""
    index = pd.Index(pd.unique(pool.astype(str).to_numpy(object)))
    return np.asarray(index.get_indexer(values.astype(str).to_numpy(object)) >= 0)


def _numeric(table: pd.DataFrame, column: str, default: float) -> np.ndarray:
    if column not in table.columns:
        return np.full(len(table), default)
    return pd.to_numeric(table[column], errors="coerce").fillna(default).to_numpy(float)


def _building_flags(
    households: pd.DataFrame, buildings: pd.DataFrame | None, params: PriorityParams
) -> tuple[np.ndarray, np.ndarray]:
    """Per household: in a large complex, in a high-rise."""
    n = len(households)
    if buildings is None or len(buildings) == 0 or "building_id" not in households.columns:
        return np.zeros(n, bool), np.zeros(n, bool)
    # Only the households' buildings and the other buildings of their
    # complexes matter; the whole city's table is large.
    own = _member(buildings["building_id"], households["building_id"].dropna())
    if "complex_id" in buildings.columns:
        complexes = buildings.loc[own, "complex_id"].dropna()
        own = own | _member(buildings["complex_id"].fillna(""), complexes)
    buildings = buildings[own]
    b = pd.DataFrame(
        {
            "building_id": _ids(buildings["building_id"]),
            "kind": buildings["kind"].astype(str) if "kind" in buildings else "",
            "floors": _numeric(buildings, "floors", 1.0),
            "units": _numeric(buildings, "units", 1.0),
        }
    )
    complex_id = (
        buildings["complex_id"]
        if "complex_id" in buildings
        else pd.Series(None, index=buildings.index)
    )
    b["complex_id"] = complex_id.where(complex_id.notna(), None).to_numpy()
    b = b.drop_duplicates("building_id", keep="last")
    in_complex = b["complex_id"].notna()
    complex_units = b[in_complex].groupby("complex_id")["units"].sum()
    units_of_group = b["units"].where(~in_complex, b["complex_id"].map(complex_units))
    b["large"] = (b["kind"] == "danchi") | (units_of_group >= params.large_complex_min_units)
    b["high"] = (b["kind"] == "highrise") | (b["floors"] >= params.highrise_min_floors)
    b = b.set_index("building_id")
    hb = _ids(households["building_id"].fillna(""))
    large = hb.map(b["large"]).fillna(False).to_numpy(bool)
    high = hb.map(b["high"]).fillna(False).to_numpy(bool)
    return large, high


def visit_cells(
    visits: pd.DataFrame | None,
    *,
    on: date,
    params: PriorityParams | None = None,
    focus_days: tuple[date, ...] | frozenset[date] = (),
) -> pd.DataFrame:
    """Home / absent counts per household, day type and slot before ``on``.

    Returns a frame indexed by household_id with columns
    ``("home" | "absent", day_type, slot)`` (a column MultiIndex).
    """
    params = params or PriorityParams()
    cols = pd.MultiIndex.from_product([("home", "absent"), DAY_TYPES, SLOTS])
    if visits is None or len(visits) == 0:
        return pd.DataFrame(columns=cols, dtype=float)
    v = pd.DataFrame(
        {
            "household_id": _ids(visits["household_id"]),
            "visited_on": pd.to_datetime(visits["visited_on"], errors="coerce"),
            "time": visits["time"].astype(str),
            "outcome": visits["outcome"].astype(str),
        }
    )
    start = pd.Timestamp(on - timedelta(days=params.history_days))
    keep = (
        (v["visited_on"] >= start)
        & (v["visited_on"] < pd.Timestamp(on))
        & _member(v["outcome"], pd.Series(_HOME_OUTCOMES + _ABSENT_OUTCOMES))
    )
    v = v[keep]
    if len(v) == 0:
        return pd.DataFrame(columns=cols, dtype=float)
    # Day type per distinct date (few hundred at most), not per visit.
    dates = v["visited_on"].dt.date
    types = {d: day_type(d, focus_days=focus_days) for d in dates.unique()}
    v = v.assign(day_type=dates.map(types))
    # Parse each distinct time once: a history has few distinct HH:MM values.
    codes, uniq = pd.factorize(v["time"].to_numpy(object))
    hhmm = pd.Series(uniq, dtype=object).str.extract(r"^\s*(\d{1,2}):(\d{2})")
    per_time = pd.to_numeric(hhmm[0], errors="coerce") * 60 + pd.to_numeric(
        hhmm[1], errors="coerce"
    )
    # A visit without a readable time counts as at 14:00, mid working day.
    minutes = pd.Series(per_time.to_numpy(float)[codes], index=v.index).fillna(14 * 60)
    v = v.assign(
        slot=_slot_of_minutes(minutes.to_numpy(), params),
        result=np.where(_member(v["outcome"], pd.Series(_HOME_OUTCOMES)), "home", "absent"),
    )
    counts = (
        v.groupby(["household_id", "result", "day_type", "slot"])
        .size()
        .unstack(["result", "day_type", "slot"], fill_value=0)
    )
    return counts.reindex(columns=cols, fill_value=0).astype(float)


def contact_probabilities(
    households: pd.DataFrame,
    visits: pd.DataFrame | None,
    *,
    on: date,
    slots: tuple[str, ...] = SLOTS,
    params: PriorityParams | None = None,
    focus_days: tuple[date, ...] | frozenset[date] = (),
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Chance that somebody is home, per household and slot of ``on``'s day type.

    A Beta(k p0, k (1 - p0)) prior (``k = prior_strength_visits``, ``p0`` the
    kind's prior for the day type and slot) updated by the visits: those at
    the same day type and slot count fully, the others by
    ``other_slot_weight``. The posterior mean is floored at ``min_p_contact``.
    Returns a frame indexed like ``households`` with one column per slot.
    """
    params = params or PriorityParams()
    dt = day_type(on, focus_days=focus_days)
    ids = _ids(households["household_id"])
    if cells is None:
        cells = visit_cells(visits, on=on, params=params, focus_days=focus_days)
    c = cells.reindex(pd.Index(ids)).fillna(0.0)
    kinds = (
        households["kind"].astype(str).to_numpy()
        if "kind" in households
        else np.full(len(ids), "home")
    )
    kinds = np.where(np.isin(kinds, ("home", "business", "public")), kinds, "home")
    k = params.prior_strength_visits
    w = params.other_slot_weight
    home_all = c["home"].to_numpy().sum(axis=1) if len(c.columns) else np.zeros(len(ids))
    absent_all = c["absent"].to_numpy().sum(axis=1) if len(c.columns) else np.zeros(len(ids))
    out = {}
    for s in slots:
        p0 = np.zeros(len(ids))
        for kind in ("home", "business", "public"):
            p0[kinds == kind] = params.prior(kind, dt, s)
        h_same = c[("home", dt, s)].to_numpy()
        a_same = c[("absent", dt, s)].to_numpy()
        h = h_same + w * (home_all - h_same)
        a = a_same + w * (absent_all - a_same)
        p = (k * p0 + h) / (k + h + a)
        out[s] = np.clip(p, params.min_p_contact, 1.0)
    return pd.DataFrame(out, index=households.index)


def score_households(
    households: pd.DataFrame,
    cards: pd.DataFrame,
    buildings: pd.DataFrame | None,
    visits: pd.DataFrame | None,
    *,
    on: date,
    slot: str | time | tuple[str | time, str | time],
    params: PriorityParams | None = None,
    focus_days: tuple[date, ...] | frozenset[date] = (),
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every household for a visit on ``on`` in ``slot``.

    Parameters
    ----------
    households
        Table with ``household_id``, ``kind`` and ``building_id``.
    cards
        Card table (``card_table``): ``household_id`` (column or index),
        ``status``, ``occupancy``, ``last_contact``.
    buildings
        Table with ``building_id``, ``kind``, ``floors``, ``units``,
        ``complex_id``; ``None`` when unknown.
    visits
        Visit history (``household_id``, ``visited_on``, ``time``,
        ``outcome``); ``None`` when there is none.
    on, slot
        The day and the slot (name, time or window) being planned.
    params
        The weights (default :class:`PriorityParams`).
    focus_days
        Extra days treated like holidays (巡回連絡強化日).
    cells
        Visit counts from :func:`visit_cells` for the same ``on``, when the
        caller already has them.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``households``: ``household_id``, ``candidate``,
        ``value`` (0 for non-candidates), ``p_contact``, ``expected_value``
        (``value * p_contact``), ``reasons`` (list of codes),
        ``card_status``, ``months_since_contact``, ``day_type``, ``slot``.
    """
    params = params or PriorityParams()
    s = slot_of(slot, params)
    dt = day_type(on, focus_days=focus_days)
    ids = _ids(households["household_id"])
    n = len(ids)
    card = _normalise_cards(cards, pd.Index(ids))
    status = card["status"].to_numpy()
    occupancy = card["occupancy"].to_numpy()
    last = card["last_contact"]
    today = pd.Timestamp(on)
    age_days = (today - last).dt.days.to_numpy(dtype=float)  # NaN without contact
    months = age_days / (365.25 / 12)

    no_card = (status == "none") & (occupancy == "occupied")
    moved = occupancy == "moved_out"
    vacant = occupancy == "vacant"
    occupied = ~moved & ~vacant
    recent = occupied & ~no_card & (age_days < params.recent_contact_days)
    # Stale by card status, or by age when the card table used other rules.
    stale = occupied & ~no_card & ((status == "stale") | (months >= params.stale_after_months))
    current_old = occupied & ~no_card & ~stale & ~recent
    candidate = no_card | stale | current_old

    value = np.zeros(n)
    value[no_card] = params.no_card_points
    over = np.nan_to_num(np.maximum(months - params.stale_after_months, 0.0))
    stale_value = np.minimum(
        params.stale_base_points + params.stale_points_per_month * over, params.stale_max_points
    )
    value[stale] = stale_value[stale]
    value[current_old] = params.current_points
    large, high = _building_flags(households, buildings, params)
    # 大規模団地 / 高層住宅 are about dwellings: a shop or office in such a
    # building gets neither the label nor the weight.
    kinds = (
        households["kind"].astype(str).to_numpy() if "kind" in households else np.full(n, "home")
    )
    is_home = ~np.isin(kinds, ("business", "public"))
    large = large & is_home
    high = high & is_home
    weight = np.ones(n)
    weight = np.where(large, np.maximum(weight, params.large_complex_weight), weight)
    weight = np.where(high, np.maximum(weight, params.highrise_weight), weight)
    value = value * weight

    if cells is None:
        cells = visit_cells(visits, on=on, params=params, focus_days=focus_days)
    p = contact_probabilities(
        households, visits, on=on, slots=(s,), params=params, focus_days=focus_days, cells=cells
    )[s].to_numpy()
    unknown_home = no_card & is_home
    effort_s = service_effort_s(kinds, no_card)
    boost = unknown_home_boost(value * p / effort_s, unknown_home, candidate, params)
    value = np.where(unknown_home, value * boost, value)
    absent_count = pd.Series(
        cells["absent"].to_numpy().sum(axis=1) if len(cells) else np.zeros(0), index=cells.index
    )
    absent_any = absent_count.reindex(pd.Index(ids)).fillna(0.0).to_numpy(float) > 0

    flags = (
        ("no_card", no_card),
        ("stale_card", stale),
        ("card_update", current_old),
        ("large_complex", large & occupied),
        ("highrise", high & occupied),
        ("absent_history", absent_any & occupied),
        ("recent_contact_excluded", recent),
        ("moved_out_excluded", moved),
        ("vacant_excluded", vacant),
    )
    matrix = np.column_stack([f for _, f in flags]) if n else np.zeros((0, len(flags)), bool)
    names = [name for name, _ in flags]
    reasons = [[names[j] for j in np.flatnonzero(row)] for row in matrix]

    return pd.DataFrame(
        {
            "household_id": ids.to_numpy(),
            "candidate": candidate,
            "value": value,
            "p_contact": p,
            "expected_value": value * p,
            "reasons": reasons,
            "card_status": status,
            "months_since_contact": np.where(np.isnan(months), np.nan, np.round(months, 1)),
            "day_type": dt,
            "slot": s,
            "home_share_boost": np.where(unknown_home, boost, 1.0),
        },
        index=households.index,
    )


def service_effort_s(kinds: np.ndarray, no_card: np.ndarray) -> np.ndarray:
    """Seconds a visit takes by kind and card (``settings.WorkloadParams`` defaults).

    The routing ranks candidates by value per second; the share rule of
    :func:`unknown_home_boost` ranks them the same way.
    """
    from .settings import WorkloadParams

    w = WorkloadParams()
    home = np.where(no_card, w.service_new_card_s, w.service_update_s)
    other = np.where(kinds == "public", w.service_public_s, w.service_business_s)
    return np.where(np.isin(kinds, ("business", "public")), other, home).astype(float)


def unknown_home_boost(
    rate: np.ndarray,
    unknown_home: np.ndarray,
    candidate: np.ndarray,
    params: PriorityParams,
) -> float:
    """The factor (>= 1) on the value of 未把握 homes that keeps their share.

    ``rate``: expected value per second of each household. Among the
    ``share_top_n`` candidates of highest rate, at least
    ``min_unknown_home_share`` must be 未把握 homes (as many as there are,
    when fewer). One common factor keeps the order among the homes.
    """
    expected_value = rate
    top = min(params.share_top_n, int(candidate.sum()))
    u = np.sort(expected_value[candidate & unknown_home])[::-1]
    o = np.sort(expected_value[candidate & ~unknown_home])[::-1]
    need = min(int(np.ceil(params.min_unknown_home_share * top)), len(u))
    if need == 0 or len(o) <= top - need:
        return 1.0
    # The need-th best home must reach the (top - need + 1)-th best other.
    rival = o[top - need]
    mine = u[need - 1]
    if mine >= rival or mine <= 0:
        return 1.0
    return float(rival / mine) * (1 + 1e-9)


@dataclass(frozen=True)
class WindowNote:
    """Why an approved window (a night window) has no visit in a plan.

    ``code``: ``no_candidate`` (nobody is likely enough to be met then),
    ``not_kept`` (candidates exist, but none among those kept for routing)
    or ``not_chosen`` (kept, but the day's other windows gave more).
    """

    window: str
    code: str
    candidates: int
    best_p_contact: float
    threshold_p_contact: float
    text: str
    text_ja: str

    def to_dict(self) -> dict[str, object]:
        return {
            "window": self.window,
            "code": self.code,
            "candidates": self.candidates,
            "best_p_contact": round(self.best_p_contact, 3),
            "threshold_p_contact": round(self.threshold_p_contact, 3),
            "text": self.text,
            "text_ja": self.text_ja,
        }


def explain_unused_window(
    window: str,
    *,
    p_contact: np.ndarray,
    allowed: np.ndarray,
    kept_allowed: int,
    threshold_p_contact: float,
) -> WindowNote:
    """Explain an approved window that the plan does not use.

    Parameters
    ----------
    window
        ``"HH:MM-HH:MM"``.
    p_contact
        Each candidate's contact probability in the window's slot.
    allowed
        Whether each candidate may be visited in the window (the routing's
        window rule: enough probability, and not much less than elsewhere).
    kept_allowed
        How many of the nodes kept for routing may use the window.
    threshold_p_contact
        The lowest probability that the routing accepts in a window.
    """
    p = np.asarray(p_contact, dtype=float)
    ok = np.asarray(allowed, dtype=bool)
    n = int(ok.sum())
    best = float(p.max()) if len(p) else 0.0
    if n == 0:
        code = "no_candidate"
        text = (
            f"window {window} unused: no candidate with contact probability >= "
            f"{threshold_p_contact:.2f} there and near its best elsewhere (best {best:.2f})"
        )
        text_ja = (
            f"夜間 {window} は未使用: この時間帯に面接見込み {threshold_p_contact:.2f} 以上"
            f"の候補なし (最高 {best:.2f})"
        )
    elif kept_allowed == 0:
        code = "not_kept"
        text = (
            f"window {window} unused: {n} candidate(s) may be met then (best p {best:.2f}), "
            "but none among the nodes kept for routing"
        )
        text_ja = (
            f"夜間 {window} は未使用: 候補 {n} 件 (面接見込み最高 {best:.2f}) は"
            "優先度が低く、今回の経路候補に入らなかった"
        )
    else:
        code = "not_chosen"
        text = (
            f"window {window} unused: {kept_allowed} routed node(s) could use it, but the "
            "other windows gave more value for the time"
        )
        text_ja = (
            f"夜間 {window} は未使用: 候補 {kept_allowed} 件は昼の時間帯で訪問する方が"
            "効率がよいと判断"
        )
    return WindowNote(window, code, n, best, float(threshold_p_contact), text, text_ja)
