"""Record /proc snapshots of this machine as a golden case for tests/test_producer_procfs.py.

    .venv/bin/python tests/data/procfs/record.py tests/data/procfs/<case> [--steps 2] [--interval 1]
    .venv/bin/python tests/data/procfs/record.py tests/data/procfs/<case> --expect   # (re)write expectations

Each step is a directory `<case>/<n>/` laid out like /proc (only the files the samplers read) plus
`statvfs.json` (what `os.statvfs` said for each mount). `case.json` holds the steps' monotonic times
and, per step after the first, the exact metrics the samplers must produce from it. `--expect` fills
those in from the current samplers: review the diff by hand before committing it, it is the golden
answer. A new bug (a counter that misbehaves on some kernel) is a new case directory: record it, or
copy a case and edit the files, then write `expect` by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FILES = ("stat", "meminfo", "loadavg", "uptime", "diskstats", "net/dev", "filesystems")


def record_step(target: Path) -> None:
    import psutil

    target.mkdir(parents=True)
    for name in FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f"/proc/{name}", target / name)
    (target / "self").mkdir()
    shutil.copyfile("/proc/self/mounts", target / "self" / "mounts")
    for pid in psutil.pids():  # system.processes counts these directories
        (target / str(pid)).mkdir()
        (target / str(pid) / ".keep").touch()
    usage = {}
    for part in psutil.disk_partitions(all=False):
        try:
            st = os.statvfs(part.mountpoint)
        except OSError:
            continue
        usage[part.mountpoint] = {k: getattr(st, k) for k in ("f_blocks", "f_bfree", "f_bavail", "f_frsize")}
    (target / "statvfs.json").write_text(json.dumps(usage, indent=1, sort_keys=True) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--expect", action="store_true", help="only (re)write the expectations of an existing case")
    args = parser.parse_args()
    case_file = args.case / "case.json"
    if not args.expect:
        if args.case.exists():
            parser.error(f"{args.case} exists; pick a new case name")
        steps = []
        start = time.monotonic()
        for n in range(args.steps):
            if n:
                time.sleep(max(0.0, start + n * args.interval - time.monotonic()))
            steps.append({"procfs": str(n), "time": round(time.monotonic() - start, 6)})
            record_step(args.case / str(n))
        case = {"description": "recorded on " + os.uname().nodename, "families": "all", "steps": steps}
        case_file.write_text(json.dumps(case, indent=1) + "\n")
    sys.path.insert(0, str(ROOT))
    from tests.test_producer_procfs import replay

    case = json.loads(case_file.read_text())
    for step, got in zip(case["steps"][1:], replay(args.case, case), strict=True):
        step["expect"] = got
    case_file.write_text(json.dumps(case, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {case_file}: review the expectations before committing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
