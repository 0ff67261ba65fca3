"""Run every bench_*.py module and write BENCHMARKS.md.

Each module's ``section()`` measures its subject and its named baseline in this same process and
returns a Markdown section with ratios, so figures compare across machines.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import pkgutil
import platform
import sys
import traceback
from pathlib import Path

import bench


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} · {cpu} · {os.cpu_count()} cores · Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    only = set(argv)
    parts = [
        "# Benchmarks\n",
        f"Written by `make bench` on {dt.datetime.now().isoformat(timespec='seconds')}.\n",
        f"Machine: {machine()}.\n",
        "Every figure is a ratio against the named baseline measured in the same process.\n",
    ]
    failed = 0
    for mod in sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")):
        if only and mod not in only:
            continue
        print(f"bench: {mod}", flush=True)
        try:
            parts.append(importlib.import_module(f"bench.{mod}").section())
        except Exception:
            failed += 1
            parts.append(f"## {mod}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n")
    Path("BENCHMARKS.md").write_text("\n".join(parts))
    print("bench: wrote BENCHMARKS.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
