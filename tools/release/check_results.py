#!/usr/bin/python3
"""check_results.py RESULTS [--full | --max-percent P | --zero-saying TEXT]:
validates a Gradescope results.json (the autograder specification: the
top-level and per-test keys Gradescope knows, their types, status "passed"
or "failed", visibility values, scores within their maximum and adding up),
then what the test expects of the score. Exit status 0 when valid and as
expected, 1 otherwise, printing every problem."""

import argparse
import json
import sys

VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
TOP_KEYS = {"score", "max_score", "execution_time", "output", "output_format",
            "test_output_format", "test_name_format", "visibility", "stdout_visibility",
            "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output",
             "output_format", "tags", "visibility", "extra_data"}


def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate(results):
    problems = []
    if not isinstance(results, dict):
        return ["the top level is not an object"]
    for key in results.keys() - TOP_KEYS:
        problems.append(f"unknown top-level key {key!r}")
    for key, check in (("score", number), ("max_score", number), ("execution_time", number),
                       ("tests", lambda v: isinstance(v, list))):
        if key not in results:
            problems.append(f"missing {key!r}")
        elif not check(results[key]):
            problems.append(f"{key!r} has the wrong type: {results[key]!r}")
    if "output" in results and not isinstance(results["output"], str):
        problems.append("'output' is not a string")
    for key in ("visibility", "stdout_visibility"):
        if key in results and results[key] not in VISIBILITY:
            problems.append(f"{key!r} is {results[key]!r}, not one of {sorted(VISIBILITY)}")
    # Gradescope's leaderboard: a list of {"name", "value", "order": asc|desc}.
    if "leaderboard" in results:
        board = results["leaderboard"]
        if not isinstance(board, list):
            problems.append("'leaderboard' is not a list")
        else:
            for i, entry in enumerate(board):
                where = f"leaderboard[{i}]"
                if not isinstance(entry, dict):
                    problems.append(f"{where} is not an object")
                    continue
                for key in entry.keys() - {"name", "value", "order"}:
                    problems.append(f"{where}: unknown key {key!r}")
                if not isinstance(entry.get("name"), str) or not entry.get("name"):
                    problems.append(f"{where}: 'name' missing or not a string")
                if not (number(entry.get("value")) or isinstance(entry.get("value"), str)):
                    problems.append(f"{where}: 'value' missing or not a number or string")
                if entry.get("order", "desc") not in ("asc", "desc"):
                    problems.append(f"{where}: 'order' is {entry['order']!r}, not asc or desc")
    if problems:
        return problems
    total = maximum = 0
    for i, test in enumerate(results["tests"]):
        where = f"tests[{i}]"
        if not isinstance(test, dict):
            problems.append(f"{where} is not an object")
            continue
        where += f" ({test.get('name', '?')})"
        for key in test.keys() - TEST_KEYS:
            problems.append(f"{where}: unknown key {key!r}")
        for key, check in (("name", lambda v: isinstance(v, str) and v), ("score", number),
                           ("max_score", number), ("output", lambda v: isinstance(v, str))):
            if key not in test or not check(test[key]):
                problems.append(f"{where}: {key!r} missing or of the wrong type")
        if problems:
            continue
        if "status" in test and test["status"] not in ("passed", "failed"):
            problems.append(f"{where}: status {test['status']!r} is not passed or failed")
        if "status" not in test and test["max_score"] != 0:
            problems.append(f"{where}: no status for a scored test")
        if test.get("visibility", "visible") not in VISIBILITY:
            problems.append(f"{where}: visibility {test['visibility']!r}")
        if not 0 <= test["score"] <= test["max_score"]:
            problems.append(f"{where}: score {test['score']} not within 0..{test['max_score']}")
        if test.get("status") == "passed" and test["score"] != test["max_score"]:
            problems.append(f"{where}: passed with {test['score']}/{test['max_score']}")
        if test.get("status") == "failed" and test["score"] != 0:
            problems.append(f"{where}: failed with {test['score']} points (all or nothing)")
        total += test["score"]
        maximum += test["max_score"]
    if not problems and results["tests"]:
        if total != results["score"]:
            problems.append(f"score {results['score']} is not the tests' sum {total}")
        if maximum != results["max_score"]:
            problems.append(f"max_score {results['max_score']} is not the tests' sum {maximum}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results")
    parser.add_argument("--full", action="store_true", help="expect the full score")
    parser.add_argument("--max-percent", type=float, help="expect at most this percentage")
    parser.add_argument("--zero-saying", help="expect score 0 and this text in the output")
    parser.add_argument("--visibility", action="append", default=[],
                        help="NAME=V: test NAME has visibility V")
    args = parser.parse_args()
    try:
        with open(args.results, encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_results: {args.results}: {e}")
        return 1
    problems = validate(results)
    if not problems:
        score, maximum = results["score"], results["max_score"]
        if maximum <= 0:
            problems.append(f"max_score {maximum}: expected the lab's points")
        if args.full and score != maximum:
            problems.append(f"score {score}/{maximum}, expected full")
        if args.max_percent is not None and score * 100 > args.max_percent * maximum:
            problems.append(f"score {score}/{maximum}, expected at most {args.max_percent} %")
        if args.zero_saying is not None:
            if score != 0:
                problems.append(f"score {score}, expected 0")
            if args.zero_saying not in results.get("output", ""):
                problems.append(f"output does not say {args.zero_saying!r}")
        for want in args.visibility:
            name, _, visibility = want.partition("=")
            got = [t.get("visibility", "visible") for t in results["tests"] if t["name"] == name]
            if got != [visibility]:
                problems.append(f"test {name}: visibility {got}, expected {visibility}")
    for p in problems:
        print(f"check_results: {args.results}: {p}")
    if problems:
        return 1
    print(f"check_results: {args.results}: valid, score {results['score']}/{results['max_score']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
