#!/usr/bin/python3
"""Compares two Tempest runs test by test, e.g. Ember against the real Keystone + Cinder anchor.

    tempest_compare.py WORKSPACE_A WORKSPACE_B [NAME_A NAME_B]     (a side may be several workspaces: A1,A2)

Reads each workspace's results.csv (written by conformance/tempest.sh) and prints, per service, run / pass / skip /
fail for both sides, then every test whose outcome differs (pass on one side, fail or skip on the other); a test of
a class whose setup skipped or failed takes the class's outcome.
"""
import csv
import os
import re
import sys

SERVICES = [("identity", r"tempest\.api\.identity\."), ("volume", r"tempest\.api\.volume\."),
            ("image", r"tempest\.api\.image\."), ("compute", r"tempest\.api\.compute\.")]


def outcome(status):
    if status in ("success", "xfail"):
        return "pass"
    return "skip" if status == "skip" else "fail"


def results(workspaces):
    """test id (without Tempest's [id-...,tags] suffix) -> pass/skip/fail, over comma-separated workspaces"""
    merged = {}
    for workspace in workspaces.split(","):
        with open(os.path.join(workspace, "results.csv")) as f:
            merged.update({re.sub(r"\[.*\]$", "", row["test"]): outcome(row["status"]) for row in csv.DictReader(f)})
    return merged


def service(test):
    # setUpClass/tearDownClass rows carry the class name in parentheses
    m = re.search(r"\((tempest\.api\.[\w.]+)\)", test)
    name = m.group(1) if m else test
    return next((n for n, p in SERVICES if re.match(p, name)), None)


def lookup(side, test):
    """A test's outcome, or its class's when the class setup skipped or failed (the test then has no row)."""
    if test in side:
        return side[test]
    return side.get(f"setUpClass ({test.rsplit('.', 1)[0]})", "absent")


def main():
    a, b = results(sys.argv[1]), results(sys.argv[2])
    name_a, name_b = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("A", "B")
    print(f"| Service | {name_a} run | pass | skip | fail | {name_b} run | pass | skip | fail |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, _ in SERVICES:
        row = []
        for side in (a, b):
            outcomes = [o for t, o in side.items() if service(t) == n]
            row += [len(outcomes)] + [outcomes.count(k) for k in ("pass", "skip", "fail")]
        if row[0] or row[4]:
            print(f"| {n} | " + " | ".join(map(str, row)) + " |")
    print()
    for test in sorted(t for t in set(a) | set(b) if not t.startswith(("setUpClass", "tearDownClass"))):
        oa, ob = lookup(a, test), lookup(b, test)
        if oa != ob:
            print(f"{name_a} {oa:<6} {name_b} {ob:<6} {test}")


if __name__ == "__main__":
    main()
