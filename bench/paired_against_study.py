"""A pretraining run made outside a study against one of the study's inits: paired difference of
fine-tuning accuracy at one budget, draw by draw (same recipe, seeds and label draws).

    python bench/paired_against_study.py --runs runs/pool-folder --label colorization-folder-pool \
        --study runs/study_std --init colorization --k 10

``--runs`` holds ``ft-k{K}-d{D}/result.json`` from ``proxytask finetune --init <run> --k K --draw D
--preset standard``; ``--study`` a standard study whose ``--init`` has the same budget and draws.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from proxytask.paired import compare, format_interval
from proxytask.records import JobRecord
from proxytask.study.folder import StudyFolder
from proxytask.study.plan import TransferJob


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True, help="folder of ft-k{K}-d{D}/result.json")
    parser.add_argument("--label", required=True, help="what to call those runs")
    parser.add_argument("--study", type=Path, required=True)
    parser.add_argument("--init", default="colorization", help="the study's init to compare with")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="the pretraining seed of the study's init")
    args = parser.parse_args()
    records = [JobRecord.from_json({**json.loads(result.read_text()), "init": args.label, "pretrain_seed": 0})
               for result in sorted(args.runs.glob(f"ft-k{args.k}-d*/result.json"))]
    draws = sorted(r.draw for r in records)
    for draw in draws:
        path = StudyFolder(args.study).job(TransferJob(args.init, args.seed, "finetune", args.k, draw))
        records.append(JobRecord.from_json({**json.loads(path.read_text()), "init": f"{args.init} (study)", "pretrain_seed": 0}))
    for name in (args.label, f"{args.init} (study)"):
        scores = [r.accuracy for r in records if r.init == name]
        print(f"{name:30s} k={args.k}: accuracy per draw {', '.join(f'{s:.3f}' for s in scores)}; mean {sum(scores) / len(scores):.3f}")
    comparison = compare(records, args.label, f"{args.init} (study)", "finetune", args.k)
    print(f"{args.label} - {args.init} (study), paired over {len(draws)} draws: {format_interval(comparison)}")


if __name__ == "__main__":
    main()
