"""``junkai-geo status``: what the workspace (or the bundled data) holds."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date", type=date.fromisoformat, default=None, help="card status on this day"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")


def run(args: argparse.Namespace) -> int:
    from ..source import source_of
    from ..status import data_status, format_status

    source = source_of(args)
    status = data_status(source.dataset(), today=args.date or source.as_of())
    status["source"] = source.label
    status["networks"] = [
        net.summary() for mode in ("walk", "bicycle") if (net := source.network(mode)) is not None
    ]
    text = json.dumps(status, ensure_ascii=False, indent=1)
    print(text if args.json else format_status(status, source.label))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0
