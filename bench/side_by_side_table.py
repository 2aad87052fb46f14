"""Prints the table of bench/side-by-side.sh from the oha JSON reports it left in a work directory,
with each of the hot path's targets marked met or missed.

    python3 bench/side_by_side_table.py WORK MODES SOAK_MODE CORES MOCK [ROUNDS]

With ROUNDS > 1 each figure (latency, requests/s, CPU) is the median over the rounds' reports
(`NAME.json`, then `r2_NAME.json`, ...): the script runs every level once per round.
"""

import json
import os
import statistics
import sys

TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")
LEVELS = [
    ("c1", "one at a time, back to back"),
    ("paced", "one at a time, paced 100 req/s"),
    ("r200", "200 req/s over 8 connections"),
    ("sat", "saturation, 32 connections"),
]


def load(work, name):
    path = os.path.join(work, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


class Single:
    """One oha report: latency percentiles in ms, requests/s, answers other than 200."""

    def __init__(self, work, name):
        report = load(work, name)
        if report is None:
            raise SystemExit(f"no report {name}.json in {work}")
        percentiles = report["latencyPercentiles"]
        self.p50 = percentiles["p50"] * 1000
        self.p99 = percentiles["p99"] * 1000
        self.rps = report["summary"]["requestsPerSec"]
        codes = report.get("statusCodeDistribution", {})
        self.ok = codes.get("200", 0)
        self.failed = sum(n for code, n in codes.items() if code != "200") + sum(
            report.get("errorDistribution", {}).values()
        )
        usage = load(work, f"{name}.cpu") or {}
        total = max(self.ok + self.failed, 1)
        self.cpu_us = usage.get("cpu_ticks", 0) * TICK_SECONDS * 1e6 / total
        self.pg_us = usage.get("pg_ticks", 0) * TICK_SECONDS * 1e6 / total
        self.rss_mb = usage.get("rss_kb", 0) / 1024
        for value in (self.p50, self.p99, self.rps):
            if value != value or value <= 0:
                raise SystemExit(f"{name}: no measurement (p50 {self.p50}, p99 {self.p99}, req/s {self.rps})")


class Run:
    """A target at one level over every round: the median of each figure, the sum of failures, the
    highest memory."""

    rounds = 1

    def __init__(self, work, name):
        runs = [Single(work, name)] + [Single(work, f"r{k}_{name}") for k in range(2, Run.rounds + 1)]
        for field in ("p50", "p99", "rps", "cpu_us", "pg_us"):
            setattr(self, field, statistics.median(getattr(run, field) for run in runs))
        self.ok = sum(run.ok for run in runs)
        self.failed = sum(run.failed for run in runs)
        self.rss_mb = max(run.rss_mb for run in runs)


def verdict(ok):
    return "met" if ok else "MISSED"


def main():
    work, modes, soak_mode, cores, mock = sys.argv[1:6]
    Run.rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    if Run.rounds < 1:
        raise SystemExit("ROUNDS must be at least 1")
    modes = modes.split(",")
    rows = []
    targets = []
    failures = []
    header = ["level", "mock p50/p99 ms", "mock req/s", "forwarder +p50/+p99 ms", "forwarder req/s"]
    for mode in modes:
        header += [f"agent ({mode}) +p50/+p99 ms", f"agent ({mode}) req/s"]
    for level, title in LEVELS:
        mock_run = Run(work, f"{level}_mock")
        forwarder = Run(work, f"{level}_forwarder")
        row = [
            title,
            f"{mock_run.p50:.3f} / {mock_run.p99:.3f}",
            f"{mock_run.rps:,.0f}",
            f"{forwarder.p50 - mock_run.p50:.3f} / {forwarder.p99 - mock_run.p99:.3f}",
            f"{forwarder.rps:,.0f} ({forwarder.rps / mock_run.rps:.2f})",
        ]
        for mode in modes:
            agent = Run(work, f"{level}_agent_{mode}")
            if agent.failed:
                failures.append(f"{level} {mode}: {agent.failed} answers other than 200")
            row += [
                f"{agent.p50 - mock_run.p50:.3f} / {agent.p99 - mock_run.p99:.3f}",
                f"{agent.rps:,.0f} ({agent.rps / mock_run.rps:.2f})",
            ]
            added = agent.p50 - mock_run.p50
            floor = max(forwarder.p50 - mock_run.p50, 0.001)
            if level in ("c1", "paced") and mode == "performance":
                targets.append((f"{title}: added p50 <= 1.2x the forwarder's",
                                f"{added:.3f} vs {floor:.3f} ms ({added / floor:.2f}x)", added <= 1.2 * floor))
            if level == "r200" and mode == "performance":
                added99 = agent.p99 - mock_run.p99
                floor99 = max(forwarder.p99 - mock_run.p99, 0.001)
                targets.append((f"{title}: added p50 <= 1.3x the forwarder's",
                                f"{added:.3f} vs {floor:.3f} ms ({added / floor:.2f}x)", added <= 1.3 * floor))
                targets.append((f"{title}: added p99 <= 1 ms and <= 2x the forwarder's",
                                f"{added99:.3f} vs {floor99:.3f} ms ({added99 / floor99:.2f}x)",
                                added99 <= 1.0 and added99 <= 2 * floor99))
            if level == "r200" and mode == "compliance":
                added99 = agent.p99 - mock_run.p99
                targets.append((f"{title}: compliance added p99 <= 3 ms", f"{added99:.3f} ms", added99 <= 3.0))
            if level == "sat" and mode == "performance":
                targets.append(("saturation: req/s >= 0.6x the forwarder's",
                                f"{agent.rps:,.0f} vs {forwarder.rps:,.0f} ({agent.rps / forwarder.rps:.2f}x)",
                                agent.rps >= 0.6 * forwarder.rps))
                targets.append(("saturation: req/s >= 0.15 of the mock's",
                                f"{agent.rps / mock_run.rps:.3f}", agent.rps >= 0.15 * mock_run.rps))
                targets.append(("saturation: RSS under load <= 60 MB", f"{agent.rss_mb:.1f} MB", agent.rss_mb <= 60))
        rows.append(row)

    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print()
    print(f"Side by side on {cores} cores (load generator, mock ({mock}), forwarder, agent and Postgres share them).")
    if Run.rounds > 1:
        print(f"Each figure is the median of {Run.rounds} rounds.")
    print("+p50/+p99: added to the mock's latency at the same level; (x): requests/s as a share of the mock's.")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")

    print()
    print("CPU per request at saturation (user + system):")
    forwarder = Run(work, "sat_forwarder")
    print(f"  forwarder {forwarder.cpu_us:.0f} us")
    for mode in modes:
        agent = Run(work, f"sat_agent_{mode}")
        print(f"  agent ({mode}) {agent.cpu_us:.0f} us, Postgres {agent.pg_us:.0f} us")

    print()
    for mode in modes:
        for endpoint, limit in (("precheck", 0.3), ("decide", 0.2)):
            run = Run(work, f"{endpoint}_agent_{mode}")
            if run.failed:
                failures.append(f"{endpoint} {mode}: {run.failed} answers other than 200")
            line = f"{endpoint} ({mode}) at 200 req/s over 8 connections: p50 {run.p50:.3f} ms, p99 {run.p99:.3f} ms"
            print(line)
            if mode == "performance":
                targets.append((f"{endpoint} p50 <= {limit} ms", f"{run.p50:.3f} ms", run.p50 <= limit))

    print()
    for mode in modes:
        guarded = Run(work, f"guarded_agent_{mode}")
        alone = Run(work, f"paced_agent_{mode}")
        if guarded.failed:
            failures.append(f"next to an adversary ({mode}): {guarded.failed} answers other than 200")
        prefixes = [""] + [f"r{k}_" for k in range(2, Run.rounds + 1)]
        adversaries = [load(work, f"{prefix}adversary_on_{mode}") for prefix in prefixes]
        if any(a is None for a in adversaries):
            raise SystemExit(f"no adversary report for {mode} in {work}")
        sent = sum(sum(a["statusCodeDistribution"].values()) for a in adversaries)
        refused = sum(a["statusCodeDistribution"].get("400", 0) for a in adversaries)
        print(f"{mode} next to an adversary (2 connections of 30 KB `' or '` texts, {sent:,} sent, "
              f"{refused:,} refused by policy): one at a time at 50 req/s p50 {guarded.p50:.3f} ms, "
              f"p99 {guarded.p99:.3f} ms, {guarded.ok:,} answered (alone at 100 req/s: "
              f"{alone.p50:.3f} / {alone.p99:.3f} ms)")
        if mode == "performance":
            targets.append(("next to an adversary: p99 <= 10 ms", f"{guarded.p99:.3f} ms", guarded.p99 <= 10))

    idle = load(work, f"agent_{soak_mode}.idle") or {}
    before = load(work, "soak.before")
    after = load(work, "soak.after")
    soak = load(work, "soak")
    print()
    print(f"memory ({soak_mode}): {idle.get('rss_idle_kb', 0) / 1024:.1f} MB idle", end="")
    if before and after and soak:
        total = sum(soak["statusCodeDistribution"].values())
        grown = (after["rss_after_kb"] - before["rss_before_kb"]) / 1024
        warmup = load(work, "soak_warmup")
        warmed = before.get("warmup", 0)
        print(f", {before['rss_before_kb'] / 1024:.1f} MB after a {warmed:,}-request warm-up and "
              f"{after['rss_after_kb'] / 1024:.1f} MB after {total:,} more requests at "
              f"{soak['summary']['requestsPerSec']:,.0f} req/s")
        targets.append(("soak: RSS flat after warm-up (grows by < 5 MB)", f"{grown:+.1f} MB", grown < 5))
        for part in (soak, warmup):
            if part is None:
                continue
            answered = sum(part["statusCodeDistribution"].values())
            if part["statusCodeDistribution"].get("200", 0) != answered or part.get("errorDistribution"):
                failures.append("soak: answers other than 200")
    else:
        print(" (no soak run)")

    for mode in modes:
        audit = load(work, f"audit_{mode}")
        print(f"audit ({mode}): {audit['answered']:,} chat calls answered, {audit['rows']:,} audit rows")
        if audit["rows"] != audit["answered"] or audit["answered"] <= 0:
            failures.append(f"{mode}: {audit['answered']} answered calls but {audit['rows']} audit rows")

    print()
    print("| target | measured | |")
    print("|---|---|---|")
    for name, measured, ok in targets:
        print(f"| {name} | {measured} | {verdict(ok)} |")
    if failures:
        print()
        for failure in failures:
            print(f"FAILED: {failure}")
        sys.exit(1)


if __name__ == "__main__":
    main()
