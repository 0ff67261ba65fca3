#!/usr/bin/env bash
# `make bench`: every benchmark, figures written to BENCHMARKS.md as ratios against their baselines.
set -euo pipefail
cd "$(dirname "$0")/.."
export KIVY_NO_ARGS=1 KIVY_NO_FILELOG=1 SDL_VIDEODRIVER=${SDL_VIDEODRIVER:-offscreen}
.venv/bin/python -m bench.run "$@"
