"""Naive vs streaming CSV processing (the "Memory Efficient Data Processing"
project): the naive version loads every row into a list of dicts before
summing one column; the streaming one sums as it reads.

    memscope run examples/csv_pipeline.py naive
    memscope run examples/csv_pipeline.py streaming
"""
import csv
import os
import sys
import tempfile

ROWS = 200_000


def generate_csv(path, rows=ROWS):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "value"])
        for i in range(rows):
            writer.writerow([i, f"Name {i}", i * 2])


def naive_total(path):
    with open(path, newline="") as f:
        data = list(csv.DictReader(f))   # every row in memory at once
    return sum(int(row["value"]) for row in data)


def streaming_total(path):
    with open(path, newline="") as f:
        return sum(int(row["value"]) for row in csv.DictReader(f))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "naive"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "large_data.csv")
        generate_csv(path)
        total = naive_total(path) if mode == "naive" else streaming_total(path)
    print(f"{mode}: sum of 'value' column: {total}")


if __name__ == "__main__":
    main()
