#!/usr/bin/env python3
"""Baseline forecasts for `capdeck backtest`, from statsforecast and statsmodels.

    statsforecast_baseline.py run  [--holdout 10%] [--models a,b] FILE.csv...
    statsforecast_baseline.py join BASELINE.jsonl CAPDECK.jsonl

`run` reads each `timestamp,value` CSV in file order (as capdeck does), holds
out the last part, fits each model on the rest and prints one JSON object
per file and model: file, model, mase, coverage95, fit_seconds. The seasons
come from the median step: one day and one week of points. MASE follows the
M4 definition, scaled by the training part's mean absolute difference at the
daily lag.

`join` prints the two result sets side by side: per file, the best baseline
and capdeck's automatic choice, then the summary (share of files where auto
is at most the best baseline, geometric mean of auto / best, mean coverage).
"""
import argparse
import json
import math
import sys
import time
import warnings

warnings.filterwarnings("ignore")

BASELINES = ["Naive", "SeasonalNaive_daily", "SeasonalNaive_weekly", "AutoETS", "MSTL", "HoltWinters"]


def read(path):
    import pandas as pd

    frame = pd.read_csv(path)
    stamps = pd.to_datetime(frame.iloc[:, 0])
    values = frame.iloc[:, 1].astype(float).to_numpy()
    secs = stamps.astype("int64").to_numpy() // 10**9
    return secs, values


def holdout_points(spec, n):
    if spec.endswith("%"):
        return max(1, int(round(n * float(spec[:-1]) / 100.0)))
    return int(spec)


def scale_of(train, m):
    import numpy as np

    if len(train) <= m:
        m = 1
    s = float(np.mean(np.abs(train[m:] - train[:-m])))
    return s if s > 0 and math.isfinite(s) else None


def fit_predict(name, train, h, day, week):
    """Mean and 95 % bounds (or None) for one model."""
    import numpy as np

    if name == "HoltWinters":
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        seasonal = len(train) >= 2 * day
        model = ExponentialSmoothing(
            train,
            trend="add",
            damped_trend=True,
            seasonal="add" if seasonal else None,
            seasonal_periods=day if seasonal else None,
            initialization_method="heuristic" if seasonal else "estimated",
        ).fit()
        return np.asarray(model.forecast(h)), None, None
    from statsforecast import models as sf

    if name == "Naive":
        model = sf.Naive()
    elif name == "SeasonalNaive_daily":
        model = sf.SeasonalNaive(season_length=day)
    elif name == "SeasonalNaive_weekly":
        model = sf.SeasonalNaive(season_length=week)
    elif name == "AutoETS":
        model = sf.AutoETS(season_length=day)
    elif name == "MSTL":
        model = sf.MSTL(season_length=[day, week], trend_forecaster=sf.AutoETS(model="ZZN"))
    else:
        raise ValueError(name)
    out = model.fit(train).predict(h, level=[95])
    return np.asarray(out["mean"]), out.get("lo-95"), out.get("hi-95")


def run(args):
    import numpy as np

    # Import before timing so fit_seconds is the fit alone.
    import statsforecast.models  # noqa: F401
    import statsmodels.tsa.holtwinters  # noqa: F401

    names = [m for m in args.models.split(",") if m]
    for path in args.files:
        secs, y = read(path)
        n = len(y)
        h = holdout_points(args.holdout, n)
        train, test = y[:-h], y[-h:]
        step = float(np.median(np.diff(np.sort(secs))))
        day = max(2, int(round(86400.0 / step)))
        week = 7 * day
        scale = scale_of(train, day)
        base = path.rsplit("/", 1)[-1]
        for name in names:
            rec = {"file": base, "model": name, "horizon": h}
            t0 = time.perf_counter()
            try:
                mean, lo, hi = fit_predict(name, train, h, day, week)
                rec["fit_seconds"] = round(time.perf_counter() - t0, 3)
                mae = float(np.mean(np.abs(test - mean)))
                rec["mase"] = mae / scale if scale else None
                if lo is not None and hi is not None:
                    inside = (test >= np.asarray(lo)) & (test <= np.asarray(hi))
                    rec["coverage95"] = float(np.mean(inside))
                else:
                    rec["coverage95"] = None
            except Exception as err:  # one failing model must not hide the rest
                rec["fit_seconds"] = round(time.perf_counter() - t0, 3)
                rec["error"] = f"{type(err).__name__}: {err}"[:200]
            print(json.dumps(rec), flush=True)


def load(path):
    out = {}
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line:
                rec = json.loads(line)
                out.setdefault(rec["file"], {})[rec["model"]] = rec
    return out


def join(args):
    base = load(args.baseline)
    ours = load(args.capdeck)
    ratios, covs, wins, rows = [], [], 0, 0
    print(f"{'file':40} {'best baseline':22} {'mase':>7} {'s':>7}  {'capdeck auto':34} {'mase':>7} {'s':>6} {'cov95':>6} {'ratio':>6}")
    for f in sorted(ours):
        auto = ours[f].get("auto")
        cands = {m: r for m, r in base.get(f, {}).items() if r.get("mase") is not None}
        if not auto or auto.get("mase") is None or not cands:
            continue
        best_name = min(cands, key=lambda m: cands[m]["mase"])
        best = cands[best_name]["mase"]
        ratio = auto["mase"] / best if best > 0 else float("nan")
        rows += 1
        # Equal at the three decimals both sides print counts as "at most".
        wins += round(auto["mase"], 3) <= round(best, 3)
        ratios.append(ratio)
        covs.append(auto.get("coverage95") or 0.0)
        print(f"{f[:40]:40} {best_name:22} {best:7.3f} {cands[best_name]['fit_seconds']:7.2f}  "
              f"{(auto.get('chosen') or '')[:34]:34} {auto['mase']:7.3f} {auto['fit_seconds']:6.3f} "
              f"{auto.get('coverage95') or 0:6.2f} {ratio:6.3f}")
    if rows:
        gm = math.exp(sum(math.log(r) for r in ratios) / rows)
        print(f"\nfiles {rows}: auto <= best baseline on {wins} ({wins / rows:.0%}); "
              f"geometric mean auto/best {gm:.3f}; mean coverage95 {sum(covs) / rows:.3f}")
    ets = [r["fit_seconds"] for f in base.values() for m, r in f.items() if m == "AutoETS" and "mase" in r]
    mine = [r["auto"]["fit_seconds"] for r in ours.values() if "auto" in r]
    if ets and mine:
        print(f"mean fit seconds: statsforecast AutoETS {sum(ets) / len(ets):.3f}, "
              f"capdeck auto {sum(mine) / len(mine):.3f} "
              f"({sum(ets) / len(ets) / max(1e-9, sum(mine) / len(mine)):.0f}x)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--holdout", default="10%")
    r.add_argument("--models", default=",".join(BASELINES))
    r.add_argument("files", nargs="+")
    j = sub.add_parser("join")
    j.add_argument("baseline")
    j.add_argument("capdeck")
    args = ap.parse_args()
    run(args) if args.cmd == "run" else join(args)


if __name__ == "__main__":
    sys.exit(main())
