"""Two study folders, job for job: does a change of code change any number?

    python bench/same_results.py runs/before runs/after

Reads both results.json files (either layout: before or after pretraining seeds) and every job's own
file (its predictions), and prints how many jobs, comparisons and rows the two share, which differ
and in what, and whether the pretraining runs hold the same weights. Run both studies with the same
command in fp32 (bf16 sums in an order that depends on the thread count).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from proxytask.files import file_digest
from proxytask.records import JobRecord, StudyResults

# What a job computed; seconds and the paths of its pictures are left out.
FIELDS = ("accuracy", "macro_f1", "predicted_classes", "degenerate", "per_class", "confusion", "chosen", "train_images",
          "labels_per_class", "steps", "seed", "loss_first", "loss_last", "predictions")


def job_files(folder: Path) -> dict[tuple, dict]:
    """Every job file below ``folder/jobs`` (either layout), by (mode, init, seed, k, draw)."""
    found = {}
    for path in (folder / "jobs").rglob("k*-d*.json"):
        record = JobRecord.from_json(json.loads(path.read_text()))
        found[(record.mode, record.init, record.pretrain_seed, str(record.k), record.draw)] = {**record.details, **record.to_json()}
    return found


def weights(folder: Path, results: StudyResults) -> dict[tuple[str, int], str]:
    return {(run.name, run.seed): file_digest(folder / run.folder / "model.safetensors") for run in results.pretraining}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    studies = [StudyResults.from_json(json.loads((folder / "results.json").read_text())) for folder in (args.before, args.after)]
    jobs = [job_files(folder) for folder in (args.before, args.after)]
    shared = sorted(set(jobs[0]) & set(jobs[1]))
    differing = [(key, name) for key in shared for name in FIELDS if jobs[0][key].get(name) != jobs[1][key].get(name)]
    print(f"jobs: {len(jobs[0])} before, {len(jobs[1])} after, {len(shared)} in both; fields compared per job: {', '.join(FIELDS)}")
    print(f"jobs that differ in any field: {len({key for key, _ in differing})}" + (f" (first: {differing[0]})" if differing else ""))
    comparisons = [{(c.init, c.baseline, c.mode, c.k, c.metric): (c.diff_mean, c.ci_low, c.ci_high, c.n_draws) for c in study.comparisons}
                   for study in studies]
    common = set(comparisons[0]) & set(comparisons[1])
    print(f"paired comparisons: {len(comparisons[0])} before, {len(comparisons[1])} after, "
          f"{sum(comparisons[0][key] != comparisons[1][key] for key in common)} of the {len(common)} shared differ")
    rows = [{(r.init, r.mode, r.k): (r.mean, r.std, r.n_draws) for r in study.rows} for study in studies]
    print(f"result rows: {len(rows[0])} before, {len(rows[1])} after, "
          f"{sum(rows[0][key] != rows[1][key] for key in set(rows[0]) & set(rows[1]))} shared ones differ")
    digests = [weights(folder, study) for folder, study in zip((args.before, args.after), studies)]
    same = sorted(key for key in set(digests[0]) & set(digests[1]) if digests[0][key] == digests[1][key])
    print(f"pretraining runs with identical weights (SHA-256): {len(same)} of {len(digests[0])} "
          f"({', '.join(f'{name} seed {seed}' for name, seed in same)})")


if __name__ == "__main__":
    main()
