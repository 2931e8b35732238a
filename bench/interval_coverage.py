"""Coverage and mean width of the seeds-and-draws interval over the cases of protocol 3.

    python bench/interval_coverage.py [--runs 2000]

Each case simulates ``--runs`` studies from diff[s, d] = mu + a_s + b_d + e_sd (seed sd as listed,
draw sd 0.03, residual sd 0.02) and prints the share whose 95% interval contains mu.
"""

from __future__ import annotations

import argparse

from proxytask.coverage import DESIGNS, DRAW_SD, RESIDUAL_SD, SEED_SDS, simulate_coverage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    print(f"draw sd {DRAW_SD}, residual sd {RESIDUAL_SD}, {args.runs} simulated studies per case")
    print(f"{'seeds':>5} {'draws':>5} {'seed sd':>8} {'coverage':>9} {'mean width':>11}")
    for seeds, draws in DESIGNS:
        for seed_sd in SEED_SDS:
            result = simulate_coverage(seeds, draws, seed_sd, runs=args.runs)
            print(f"{seeds:>5} {draws:>5} {seed_sd:>8.2f} {result.covered:>9.3f} {result.mean_width:>11.3f}")


if __name__ == "__main__":
    main()
