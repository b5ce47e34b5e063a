"""The liaison windows of a day: night rules (夜間の巡回連絡) and breaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from .clock import Window, WindowLike, format_clock, parse_clock, parse_window
from .params import RouteParams


@dataclass(frozen=True)
class NightApproval:
    """A manager's approval of night visits (夜間の巡回連絡) for one officer and date."""

    officer_id: str
    date: date
    window: WindowLike = "18:00-20:00"

    def seconds(self) -> Window:
        """The approved window in seconds since midnight."""
        return parse_window(self.window, "NightApproval.window")


def _is_night(w: Window, params: RouteParams) -> bool:
    day_a = parse_clock(params.day_from)
    day_b = parse_clock(params.night_from)
    return w[0] < day_a or w[1] > day_b


def _subtract(windows: list[Window], breaks: list[Window]) -> list[Window]:
    out = list(windows)
    for ba, bb in breaks:
        nxt: list[Window] = []
        for a, b in out:
            if bb <= a or ba >= b:
                nxt.append((a, b))
                continue
            if a < ba:
                nxt.append((a, ba))
            if bb < b:
                nxt.append((bb, b))
        out = nxt
    return out


def _merge(windows: list[Window]) -> list[Window]:
    out: list[Window] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def resolve_windows(
    officer_id: str,
    on: date,
    windows: Sequence[WindowLike] | None,
    *,
    breaks: Sequence[WindowLike] = (),
    night_approval: NightApproval | None = None,
    params: RouteParams | None = None,
) -> tuple[list[Window], list[str]]:
    """The liaison windows of the day after night rules and breaks, and notes.

    Daytime windows are kept; a night window is kept only when
    ``night_approval`` is for this officer and date and covers it; an
    approval adds its own window. Breaks are cut out.
    """
    params = params or RouteParams()
    notes: list[str] = []
    asked = [
        parse_window(w, f"windows[{i}]")
        for i, w in enumerate(windows if windows else params.day_windows)
    ]
    approved: Window | None = None
    if night_approval is not None:
        if night_approval.officer_id == officer_id and night_approval.date == on:
            approved = night_approval.seconds()
            asked.append(approved)
            notes.append(
                f"night visits approved for {officer_id} on {on.isoformat()} "
                f"{format_clock(approved[0])[:5]}-{format_clock(approved[1])[:5]}"
            )
        else:
            notes.append(
                f"night approval for {night_approval.officer_id} on "
                f"{night_approval.date.isoformat()} does not apply to {officer_id} on "
                f"{on.isoformat()}; ignored"
            )
    kept: list[Window] = []
    for w in asked:
        if not _is_night(w, params):
            kept.append(w)
            continue
        if approved is not None and approved[0] <= w[0] and w[1] <= approved[1]:
            kept.append(w)
            continue
        # A night window without approval: keep only its daytime part.
        day = _subtract(
            [w], [(0, parse_clock(params.day_from)), (parse_clock(params.night_from), 86400)]
        )
        kept.extend(day)
        notes.append(
            f"window {format_clock(w[0])[:5]}-{format_clock(w[1])[:5]} reaches into the night "
            f"(before {params.day_from} or after {params.night_from}) without an approval; "
            "night part ignored"
        )
    cut = _subtract(_merge(kept), [parse_window(b, f"breaks[{i}]") for i, b in enumerate(breaks)])
    return [w for w in cut if w[1] > w[0]], notes
