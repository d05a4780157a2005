"""The one table of ``make bench``: each bench's headline figures, their targets, their ratio to
the hand-written limit measured in the same run, and whether they reach the target.

    .venv/bin/python bench/summary.py RESULTS

RESULTS is the file the benches appended to (``BENCH_RESULTS``, see ``common.record``).
"""

import json
import sys


def main(path: str) -> int:
    with open(path) as results:
        entries = [json.loads(line) for line in results if line.strip()]
    if not entries:
        print("No bench recorded a figure.")
        return 1
    rows = [("what", "figure", "target", "ratio to limit", "")]
    for entry in entries:
        relation = "≤" if entry["lower_is_better"] else "≥"
        target = f"{relation} {entry['target']:,.0f} {entry['unit']}" if entry["target"] is not None else "—"
        ratio = f"{entry['ratio']:.2f} of {entry['limit']}" if entry["ratio"] is not None else "—"
        verdict = {True: "pass", False: "short", None: ""}[entry["passed"]]
        rows.append((entry["what"], f"{entry['figure']:,.1f} {entry['unit']}", target, ratio, verdict))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    print("\nSummary")
    for number, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            print("  " + "  ".join("-" * width for width in widths))
    return 0 if all(entry["passed"] is not False for entry in entries) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
