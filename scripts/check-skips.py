#!/usr/bin/env python3
"""Fails when ctest skipped a test that tests/allowed-skips.txt does not name.

A skipped test is a check that did not happen: a missing package or a broken find would otherwise
leave CI green. Only the skips listed in the allow-list, each with the reason it may happen, pass.

    check-skips.py RESULTS.xml [RESULTS.xml ...]   (ctest --output-junit files)
"""
import pathlib
import sys
import xml.etree.ElementTree as ET

ALLOW_LIST = pathlib.Path(__file__).resolve().parent.parent / "tests" / "allowed-skips.txt"


def allowed_tests():
    names = {}
    for line in ALLOW_LIST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            names[name] = reason.strip()
    return names


def skip_message(testcase):
    """gtest's own words after 'Skipped', or ctest's reason."""
    out = testcase.findtext("system-out") or ""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip().endswith(": Skipped") and i + 1 < len(lines):
            return lines[i + 1].strip()
    skipped = testcase.find("skipped")
    return skipped.get("message", "") if skipped is not None else ""


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    allowed = allowed_tests()
    refused = []
    for path in paths:
        for testcase in ET.parse(path).getroot().iter("testcase"):
            if testcase.find("skipped") is None:
                continue
            name = testcase.get("name")
            if name in allowed:
                print(f"check-skips: {name} skipped, allowed: {allowed[name]}")
            else:
                refused.append(f"  {name}: {skip_message(testcase)}")
    if refused:
        print("check-skips: these tests were skipped, and tests/allowed-skips.txt does not allow it;"
              " install what they name (scripts/install-deps.sh --tests):", file=sys.stderr)
        print("\n".join(refused), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
