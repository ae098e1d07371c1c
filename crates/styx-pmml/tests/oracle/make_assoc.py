"""Writes the input tables of the hand-written association rule and time series cases
(160-179): seeded random rows that cover every branch of the documents (items present and
absent, missing and invalid cells, the values each MiningField treatment acts on).

Usage: python make_assoc.py FIXTURES_DIR   (then jpmml.py scores cases 160-171 again:
it drops the rows JPMML refuses from the regenerated inputs). The error cases' small
inputs are written by hand.
"""

import csv
import random
import sys
from pathlib import Path


def write(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def pick(rng, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def basket(fixtures):
    rng = random.Random(160)
    rows = []
    for i in range(320):
        rows.append([
            i + 1,
            pick(rng, [("T", 45), ("F", 40), ("", 8), ("X", 7)]),
            pick(rng, [("true", 35), ("false", 35), ("1", 8), ("0", 8), ("TRUE", 4), ("", 10)]),
            pick(rng, [("1", 40), ("0", 40), ("", 10), ("x", 8), ("2", 2)]),
            pick(rng, [("T", 25), ("F", 25), ("true", 8), ("false", 8), ("1", 6), ("0", 6), ("TRUE", 4), ("1.0", 3), ("", 12), ("maybe", 3)]),
            pick(rng, [("urban", 35), ("suburban", 25), ("rural", 20), ("", 12), ("downtown", 8)]),
            pick(rng, [(str(round(rng.uniform(1, 480), 2)), 80), ("", 8), ("-5", 4), ("750", 4), ("100", 4)]),
            pick(rng, [("web", 35), ("store", 35), ("app", 15), ("", 15)]),
        ])
    write(fixtures / "160-association-categorical-basket" / "input.csv",
          ["Id", "bread", "milk", "eggs", "butter", "store", "basket_value", "channel"], rows)


def grocery(fixtures):
    rng = random.Random(161)
    products = ["cracker", "water", "coke", "nachos", "pear", "banana", "beer", "diapers", "salsa", "chips"]
    rows = []
    tickets = [f"T{n:04d}" for n in range(1, 121)]
    for t in tickets:
        size = rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 6])
        if size == 0:
            rows.append([t, pick(rng, [("", 3), ("BREAD", 1)]), "store"])
        for _ in range(size):
            item = pick(rng, [(p, 10) for p in products] + [("", 4), ("Cracker", 2), ("unknown", 2)])
            rows.append([t, item, pick(rng, [("store", 5), ("web", 3), ("", 1)])])
    # Interleave the tickets: the rows of one transaction need not be adjacent.
    rng.shuffle(rows)
    write(fixtures / "161-association-transactional-grocery" / "input.csv", ["ticket", "product", "channel"], rows)


def codes(fixtures):
    rng = random.Random(162)
    rows = []
    for n in range(1, 91):
        for _ in range(rng.choice([1, 2, 3, 4, 5])):
            code = pick(rng, [(str(c), 10) for c in (101, 102, 103, 104, 105, 106)] + [("", 3), ("999", 3), ("101.0", 2), ("abc", 2)])
            rows.append([str(n), code])
    rng.shuffle(rows)
    write(fixtures / "162-association-transactional-codes-semicolon" / "input.csv", ["order_id", "sku"], rows, delimiter=";")


def state_space(fixtures):
    rng = random.Random(170)
    rows = []
    for i in range(240):
        rows.append([i + 1, pick(rng, [("1", 30), ("2", 20), ("3", 15), ("7", 10), ("", 15), ("12", 10), ("0", 2), ("2.5", 1)]), pick(rng, [(str(round(rng.uniform(50, 150), 1)), 9), ("", 1)])])
    write(fixtures / "170-timeseries-statespace-horizon" / "input.csv", ["Id", "horizon", "last_sales"], rows)
    rows = []
    for i in range(200):
        rows.append([pick(rng, [("1", 50), ("", 40), ("4", 3)]), pick(rng, [("a", 1), ("b", 1)])])
    write(fixtures / "171-timeseries-statespace-matcell-intercepts" / "input.csv", ["steps", "note"], rows)


if __name__ == "__main__":
    fixtures = Path(sys.argv[1])
    basket(fixtures)
    grocery(fixtures)
    codes(fixtures)
    state_space(fixtures)
