"""What an area's data holds: counts per layer, 未把握, gaps (``junkai-geo status``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from .model import Dataset

LAYER_ORDER = ("koban", "beats", "units", "officers", "buildings", "households", "visits")


def data_status(ds: Dataset, *, today: date) -> dict[str, Any]:
    """Counts per layer, 未把握, beats without an officer, households and buildings without a beat.

    未把握 counts occupied households whose card status is ``none`` on
    ``today`` (:func:`junkai_geo.cards.card_table`); homes are households of
    kind ``home``.
    """
    from .cards import card_table

    counts = {
        name: 0 if getattr(ds, name) is None else len(getattr(ds, name)) for name in LAYER_ORDER
    }
    out: dict[str, Any] = {"as_of": today.isoformat(), "crs": ds.crs, "counts": counts}
    hh = ds.households
    beat_ids = set() if ds.beats is None else set(ds.beats["beat_id"].dropna().astype(str))
    if hh is not None and len(hh):
        kinds = hh["kind"].astype(str).value_counts()
        out["households_by_kind"] = {
            k: int(kinds.get(k, 0)) for k in ("home", "business", "public")
        }
        cards = card_table(hh, ds.visits, today=today)
        status = cards["status"].reindex(hh["household_id"]).to_numpy()
        occupied = cards["occupancy"].reindex(hh["household_id"]).to_numpy() == "occupied"
        home = (hh["kind"].astype(str) == "home").to_numpy()
        unknown = occupied & (status == "none")
        out["unknown"] = int(unknown.sum())
        out["unknown_homes"] = int((unknown & home).sum())
        out["unknown_share_of_homes"] = round(
            float((unknown & home).sum()) / max(int(home.sum()), 1), 4
        )
        out["stale"] = int((occupied & (status == "stale")).sum())
        out["occupied"] = int(occupied.sum())
        beat = hh["beat_id"]
        none = beat.isna().to_numpy() | ~beat.astype(str).isin(beat_ids).to_numpy()
        out["households_without_beat"] = int(none.sum())
        out["households_without_beat_ids"] = sorted(
            hh.loc[none, "household_id"].astype(str).tolist()
        )[:20]
    else:
        out.update(unknown=0, unknown_homes=0, households_without_beat=0)
        out["households_without_beat_ids"] = []
    if ds.buildings is not None and len(ds.buildings):
        none = _buildings_without_beat(ds, beat_ids)
        out["buildings_without_beat"] = int(none.sum())
        out["buildings_without_beat_ids"] = sorted(
            ds.buildings.loc[none, "building_id"].astype(str).tolist()
        )[:20]
    officers = ds.officers
    staffed: set[str] = set()
    if officers is not None and len(officers):
        staffed = set(officers["beat_id"].dropna().astype(str))
    without = sorted(beat_ids - staffed)
    out["beats_without_officer"] = len(without)
    out["beats_without_officer_ids"] = without[:20]
    if hh is not None and len(hh) and ds.beats is not None:
        per_beat = hh["beat_id"].astype(str).value_counts()
        empty = sorted(b for b in beat_ids if int(per_beat.get(b, 0)) == 0)
        out["beats_without_households"] = len(empty)
        out["beats_without_households_ids"] = empty[:20]
    return out


def _buildings_without_beat(ds: Dataset, beat_ids: set[str]) -> Any:
    """Buildings with no beat: no ``beat_id`` of a current beat, and in no beat's polygon.

    A building's beat is its ``beat_id`` (given, or placed by location on
    import); a building without one (the bundled data, a file read
    directly) is looked up by location, so the count is the same either way.
    """
    import numpy as np
    import shapely

    b = ds.buildings
    assert b is not None
    if "beat_id" in b.columns:
        known = b["beat_id"].astype(str).isin(beat_ids).to_numpy() & b["beat_id"].notna().to_numpy()
    else:
        known = np.zeros(len(b), dtype=bool)
    none = ~known
    if none.any() and ds.beats is not None and len(ds.beats):
        points = b.geometry.to_numpy()[none]
        hit, _ = shapely.STRtree(ds.beats.geometry.to_numpy()).query(points, predicate="intersects")
        inside = np.zeros(len(points), dtype=bool)
        inside[hit] = True
        none[np.flatnonzero(none)[inside]] = False
    return none


def format_status(status: dict[str, Any], label: str) -> str:
    """Readable lines, Japanese terms first."""
    c = status["counts"]
    lines = [f"{label} (as of {status['as_of']}, CRS {status['crs'] or '-'})"]
    names = {
        "koban": "交番・駐在所 koban",
        "beats": "受持区 beats",
        "units": "町丁目 units",
        "officers": "警察官 officers",
        "buildings": "建物 buildings",
        "households": "家庭等 households",
        "visits": "実施結果 visits",
    }
    for k in LAYER_ORDER:
        lines.append(f"  {names[k]:<22} {c[k]:>10,}")
    if "households_by_kind" in status:
        k = status["households_by_kind"]
        lines.append(
            f"  households by kind: home {k['home']:,} / business {k['business']:,} / "
            f"public {k['public']:,}"
        )
        lines.append(
            f"  未把握 (no card) {status['unknown']:,} of {status['occupied']:,} occupied "
            f"households; homes {status['unknown_homes']:,} "
            f"({100 * status['unknown_share_of_homes']:.1f} % of homes); stale cards "
            f"{status['stale']:,}"
        )
    lines.append(
        f"  beats without an officer: {status['beats_without_officer']}"
        + _ids(status["beats_without_officer_ids"], status["beats_without_officer"])
    )
    if "beats_without_households" in status:
        lines.append(
            f"  beats without households: {status['beats_without_households']}"
            + _ids(status["beats_without_households_ids"], status["beats_without_households"])
        )
    if "buildings_without_beat" in status:
        lines.append(
            f"  buildings without a beat: {status['buildings_without_beat']}"
            + _ids(status["buildings_without_beat_ids"], status["buildings_without_beat"])
        )
    lines.append(
        f"  households without a beat: {status['households_without_beat']}"
        + _ids(status["households_without_beat_ids"], status["households_without_beat"])
    )
    for net in status.get("networks", []):
        lines.append(
            f"  street network ({net['mode']}): {net['n_vertices']:,} vertices, "
            f"{net['n_edges']:,} edges, {net['length_km']:.1f} km from {net['source_file']}"
        )
    if "networks" in status and not status["networks"]:
        lines.append("  street network: none (travel is straight line x 1.3)")
    return "\n".join(lines)


def _ids(ids: list[str], n: int) -> str:
    if not ids:
        return ""
    return " (" + ", ".join(ids) + (", ..." if n > len(ids) else "") + ")"


__all__ = ["data_status", "format_status"]
