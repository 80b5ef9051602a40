"""Example Cocos algorithm: nearest-centroid classification of the iris dataset (standard library only).

Reads every CSV under datasets/, writes results/report.json and results/summary.txt (paths relative
to the working directory, the Cocos convention), and prints a one-line summary.
"""

import csv
import json
import math
import pathlib
import sys

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def load(directory):
    rows = []
    for path in sorted(pathlib.Path(directory).glob("*.csv")):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                rows.append(([float(row[f]) for f in FEATURES], row["species"]))
    return rows


def centroids(rows):
    sums, counts = {}, {}
    for features, label in rows:
        acc = sums.setdefault(label, [0.0] * len(FEATURES))
        for i, value in enumerate(features):
            acc[i] += value
        counts[label] = counts.get(label, 0) + 1
    return {label: [v / counts[label] for v in acc] for label, acc in sums.items()}, counts


def main():
    rows = load("datasets")
    if not rows:
        print("no CSV rows found under datasets/", file=sys.stderr)
        return 3
    means, counts = centroids(rows)
    correct = 0
    for features, label in rows:
        guess = min(means, key=lambda name: math.dist(features, means[name]))
        correct += guess == label
    accuracy = correct / len(rows)
    report = {
        "rows": len(rows),
        "classes": counts,
        "centroids": {label: dict(zip(FEATURES, (round(v, 3) for v in vec))) for label, vec in means.items()},
        "nearest_centroid_accuracy": round(accuracy, 4),
    }
    out = pathlib.Path("results")
    out.mkdir(exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    summary = f"iris: {len(rows)} rows, {len(counts)} classes, nearest-centroid accuracy {accuracy:.1%}"
    (out / "summary.txt").write_text(summary + "\n")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
