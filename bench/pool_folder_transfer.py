"""Colorization pretrained on a plain folder of the LFW pool pictures against the same pool read as
LFW: paired difference of fine-tuning accuracy at one budget, draw by draw.

    python bench/pool_folder_transfer.py --folder-runs runs/pool-folder --study runs/study_std --k 10

``--folder-runs`` holds ``ft-k{K}-d{D}/result.json`` from ``proxytask finetune --init <folder run>
--k K --draw D --preset standard``; ``--study`` a standard study whose colorization (LFW pool) has
the same budget and draws. Both used the same recipe, seeds and label draws.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from proxytask.paired import compare, format_interval
from proxytask.records import JobRecord


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder-runs", type=Path, required=True)
    parser.add_argument("--study", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    records = []
    for result in sorted(args.folder_runs.glob(f"ft-k{args.k}-d*/result.json")):
        record = json.loads(result.read_text())
        records.append(JobRecord.from_json({**record, "init": "colorization-folder-pool"}))
    draws = {r.draw for r in records}
    for draw in sorted(draws):
        record = json.loads((args.study / "jobs" / "finetune" / "colorization" / f"k{args.k}-d{draw}.json").read_text())
        records.append(JobRecord.from_json({**record, "init": "colorization-lfw-pool"}))
    for name in ("colorization-folder-pool", "colorization-lfw-pool"):
        scores = [r.accuracy for r in records if r.init == name]
        print(f"{name:26s} k={args.k}: accuracy per draw {', '.join(f'{s:.3f}' for s in scores)}; mean {sum(scores) / len(scores):.3f}")
    comparison = compare(records, "colorization-folder-pool", "colorization-lfw-pool", "finetune", args.k)
    print(f"folder pool - LFW pool, paired over {len(draws)} draws: {format_interval(comparison)}")


if __name__ == "__main__":
    main()
