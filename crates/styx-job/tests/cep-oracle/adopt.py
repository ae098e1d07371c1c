#!/usr/bin/env python3
"""Copies a scenario folder (e.g. minimize.py's output) under a new name and description.

usage: adopt.py SRC_DIR DEST_DIR "one-line description"

Rewrites line 1 of job.toml (the description), [job] name and spec.json's name to DEST_DIR's folder name;
events.ndjson and expected/ are copied unchanged. Python 3 standard library only.
"""
import json
import os
import re
import shutil
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, dest, desc = argv
    name = os.path.basename(os.path.normpath(dest))
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("out", "oracle-failure.txt"))
    p = os.path.join(dest, "job.toml")
    with open(p, encoding="utf-8") as f:
        lines = f.read().split("\n")
    lines[0] = "# " + desc
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', "\n".join(lines), count=1)
    with open(p, "w", encoding="utf-8") as f:
        f.write(text)
    p = os.path.join(dest, "spec.json")
    with open(p, encoding="utf-8") as f:
        spec = json.load(f)
    spec["name"] = name
    with open(p, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
