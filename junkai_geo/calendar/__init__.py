"""Multi-day visit calendars of a koban, and the new officer's beat plan.

:func:`build_calendar_problem` (:mod:`.problem`) turns a
:class:`CalendarRequest` and a dataset into a :class:`CalendarProblem`
(plain data, JSON and pickle); :func:`plan_calendar` (:mod:`.plan`) plans
every officer's liaison route for every roster day of its horizon (for
example 4 weeks) with :func:`junkai_geo.routing.plan_day` and returns a
:class:`CalendarResult` (:mod:`.result`). The rules (docs/calendar.md):

- each officer plans from a *pool*: a beat officer his beat, a specialist
  (巡回連絡専従員) the koban's households in large complexes and high-rise
  buildings (then taken out of the beat officers' pools);
- days share no household, except a retry after a failed first attempt;
- outcomes are simulated deterministically with expected values: an attempt
  whose contact probability is below ``retry_if_p_below`` counts as absent
  (不在) and is written to the history the next days are planned from;
- a retry (second attempt) is planned only when no 未把握 household of the
  pool waits that the day could reach (the day is first planned without
  retries; retries join only if that plan left no waiting 未把握 household
  out for lack of time or value), and only on a day type and in slots
  different from every failed attempt;
- while at least ``unknown_first_min`` 未把握 households of a pool wait, the
  pool's days attempt only 未把握 households (card updates wait);
- on a focus day (強化日) the households rarely home on weekdays go first;
- a night window appears only with a :class:`~junkai_geo.routing.NightApproval`
  for that officer and day, on a shift that has an evening window.

Pools are independent, so they are planned in parallel processes.
:func:`plan_new_officer` (:mod:`.new_officer`) covers a whole beat area by area for a newly
assigned officer (新たに受持区の担当を命ぜられた場合).
"""

from .new_officer import AreaDay, NewOfficerParams, NewOfficerPlan, hilbert_index, plan_new_officer
from .params import CAPACITY_REASONS, CalendarParams
from .plan import demo_calendar, plan_calendar
from .problem import (
    CalendarProblem,
    CalendarRequest,
    PoolSpec,
    build_calendar_problem,
    frame_from_dict,
    frame_to_dict,
    koban_households,
)
from .result import Attempt, BeatCoverage, CalendarResult, travel_mode_of, travel_source_of

__all__ = [
    "CAPACITY_REASONS",
    "AreaDay",
    "Attempt",
    "BeatCoverage",
    "CalendarParams",
    "CalendarProblem",
    "CalendarRequest",
    "CalendarResult",
    "NewOfficerParams",
    "NewOfficerPlan",
    "PoolSpec",
    "build_calendar_problem",
    "demo_calendar",
    "frame_from_dict",
    "frame_to_dict",
    "hilbert_index",
    "koban_households",
    "plan_calendar",
    "plan_new_officer",
    "travel_mode_of",
    "travel_source_of",
]
