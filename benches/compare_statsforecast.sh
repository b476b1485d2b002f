#!/usr/bin/env bash
# Compare `capdeck backtest` with statsforecast 2.1 (Naive, SeasonalNaive daily
# and weekly, AutoETS, MSTL) and statsmodels' damped Holt-Winters on the same
# files and the same split, side by side. Optional in CI: it needs Python 3 and
# network access for pip the first time.
#
#   benches/compare_statsforecast.sh [--holdout 10%] [--models A,B] FILE.csv...
#
# Default files: tests/data/nab/*.csv. The venv lives in $VENV
# (default target/venv-statsforecast) and is created on first use.
# AutoETS with a 288-point season takes from seconds to minutes per file;
# `--models Naive,SeasonalNaive_daily,...` skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

holdout="10%"
models=""
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --holdout) holdout="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || files=(tests/data/nab/*.csv)

VENV="${VENV:-target/venv-statsforecast}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "statsforecast==2.1.1" statsmodels pandas
fi

cargo build --release --quiet
out="target/compare-statsforecast"
mkdir -p "$out"

model_args=()
[ -z "$models" ] || model_args=(--models "$models")
"$VENV/bin/python" benches/statsforecast_baseline.py run --holdout "$holdout" "${model_args[@]}" "${files[@]}" \
  > "$out/baseline.jsonl"
target/release/capdeck backtest --holdout "$holdout" --format json "${files[@]}" > "$out/capdeck.jsonl"
"$VENV/bin/python" benches/statsforecast_baseline.py join "$out/baseline.jsonl" "$out/capdeck.jsonl"
