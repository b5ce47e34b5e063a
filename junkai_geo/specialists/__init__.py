"""巡回連絡専従員: difficult districts, how many officers each needs and who, their rounds.

Where large 団地 or high-rise housing make patrol liaison "significantly
difficult", the manager designates dedicated officers (専従員) or several
officers. This module:

1. finds the **difficult districts** (:func:`find_specialist_districts`):
   buildings that are high-rise, large or part of a complex
   (:func:`junkai_geo.buildings.classify_buildings`) are joined into one
   district when they stand within ``cluster_distance_m`` of each other
   (connected components of the "closer than" graph, single linkage, as
   DBSCAN with ``min_samples = 1``; buildings of one complex always share a
   district). Each district is ranked by its backlog (未把握 households), its
   contact difficulty (share of absent visits) and the hours needed to bring
   it to ``target_coverage`` within ``period_weeks``, with reasons;
2. **recommends** officers (:func:`recommend_specialists`): officer-days per
   week from the officers that can be spared, found with OR-Tools CP-SAT,
   first covering as many district hours as possible, then preferring
   officers close to the district; several officers share a district larger
   than one officer's capacity; no officer exceeds his days. What stays
   uncovered is reported per district with its reason;
3. plans **specialist rounds** (:func:`plan_specialist_rounds`): day plans
   inside a district (building by building, floor by floor: one routing node
   per building and floor chunk) with :func:`junkai_geo.routing.plan_day`, on
   weekends and holidays first, and in the evening on weekdays with a night
   approval.

:func:`recommend_for_dataset` runs the whole chain on a :class:`Dataset`. The
package keeps one concern per module: :mod:`.params`, :mod:`.districts`
(step 1), :mod:`.assignment` (step 2, CP-SAT), :mod:`.rounds` (step 3) and
:mod:`.report` (the chain and its report).
docs/specialists.md gives the model and every default.
"""

from .assignment import (
    Assignment,
    DistrictCoverage,
    Recommendation,
    SpareOfficer,
    assignment_objective,
    recommend_specialists,
)
from .districts import (
    District,
    DistrictSearch,
    cluster_buildings,
    districts_frame,
    find_specialist_districts,
)
from .params import SpecialistParams
from .report import SpecialistReport, recommend_for_dataset, spare_officers
from .rounds import plan_specialist_rounds, round_days

__all__ = [
    "Assignment",
    "District",
    "DistrictCoverage",
    "DistrictSearch",
    "Recommendation",
    "SpareOfficer",
    "SpecialistParams",
    "SpecialistReport",
    "assignment_objective",
    "cluster_buildings",
    "districts_frame",
    "find_specialist_districts",
    "plan_specialist_rounds",
    "recommend_for_dataset",
    "recommend_specialists",
    "round_days",
    "spare_officers",
]
