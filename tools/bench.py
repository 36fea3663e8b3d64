"""Benchmark of the offline engine: ``make bench`` (``python -m tools.bench``).

Reports, as medians over several runs, each in a fresh process:

- wall time and peak memory (max RSS) of the offline preview of dev and prod
  in both modes;
- the floor: a process that only imports pulumi, pulumi_aws,
  pulumi_kubernetes and pulumi_random;
- resources per second;
- growth: a synthetic program with 1, 2, 5 and 10 copies of the prod Network
  (subnets, routes, endpoints, flow logs: every per-AZ and AZ-independent
  resource), to show that time grows linearly with the graph.

A script that reports figures, not a timed test: nothing here passes or
fails on speed. Record results with the machine in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
FLOOR = "import pulumi, pulumi_aws, pulumi_kubernetes, pulumi_random"
# pulumi_aws imports its service modules lazily; these are the ones the
# program touches, so this floor is what any run of the program pays first.
FLOOR_WITH_SERVICES = (
    f"{FLOOR}; pulumi_aws.ec2.Vpc, pulumi_aws.iam.Role, pulumi_aws.kms.Key, "
    "pulumi_aws.cloudwatch.LogGroup, pulumi_aws.vpc.SecurityGroupIngressRule"
)
SCALES = (1, 2, 5, 10)


def _measure(args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of one child process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(args, cwd=PROJECT_DIR, stdout=out, stderr=err, text=True)
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN is a max over all).
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"benchmark run failed: {' '.join(args)}\n{err.read()}")
        return wall, usage.ru_maxrss / 1024, out.read()


def _count_resources(stdout: str) -> int:
    text = stdout.strip()
    if text.startswith("{"):
        return len(json.loads(text)["resources"])
    return int(text.splitlines()[-1]) if text else 0


def _scaled_code(copies: int) -> str:
    return (
        "import json, yaml\n"
        "from pathlib import Path\n"
        "import pulumi, pulumi_aws as aws\n"
        "from components.config import NetworkConfig\n"
        "from components.naming import Naming\n"
        "from components.network import Network, NetworkArgs\n"
        "from tools.engine import run_program\n"
        "raw = yaml.safe_load(Path('Pulumi.prod.yaml').read_text())['config']['platform:network']\n"
        "config = NetworkConfig.model_validate(raw)\n"
        "def program():\n"
        "    p = aws.Provider('aws', region='ca-central-1')\n"
        f"    for i in range({copies}):\n"
        "        Network(f'net{i}', NetworkArgs(config=config, naming=Naming('platform', f'bench{i}'),\n"
        "                region='ca-central-1', account_id='123456789012'), opts=pulumi.ResourceOptions(provider=p))\n"
        "run = run_program(program, project='platform', stack='bench', mode='update',\n"
        "                  config={'aws:region': 'ca-central-1'})\n"
        "print(len(run.resources))\n"
    )


def _median_runs(args: list[str], runs: int) -> tuple[float, float, int]:
    walls, peaks, count = [], [], 0
    for _ in range(runs):
        wall, peak, stdout = _measure(args)
        walls.append(wall)
        peaks.append(peak)
        count = _count_resources(stdout)
    return statistics.median(walls), statistics.median(peaks), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    args = parser.parse_args(argv)

    lines = [
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; medians of {args.runs} runs, each a fresh process.",
        "",
        "| what | resources | wall (s) | peak RSS (MiB) | resources/s | vs floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    floor_wall, floor_peak, _ = _median_runs([sys.executable, "-c", FLOOR], args.runs)
    lines.append(f"| floor: import the four SDKs | - | {floor_wall:.2f} | {floor_peak:.0f} | - | 1.00x |")
    services_wall, services_peak, _ = _median_runs([sys.executable, "-c", FLOOR_WITH_SERVICES], args.runs)
    lines.append(
        f"| floor + the AWS service modules used (ec2, iam, kms, cloudwatch, vpc) | - | {services_wall:.2f} "
        f"| {services_peak:.0f} | - | {services_wall / floor_wall:.2f}x |"
    )
    for stack in ("dev", "prod"):
        for mode in ("preview", "update"):
            wall, peak, count = _median_runs(
                [sys.executable, "-m", "tools.preview", "--stack", stack, "--mode", mode, "--json"], args.runs
            )
            lines.append(
                f"| {stack} {mode} | {count} | {wall:.2f} | {peak:.0f} | {count / wall:.0f} "
                f"| {wall / floor_wall:.2f}x |"
            )
    lines += ["", "Growth (prod Network repeated, update mode):", "",
              "| copies | resources | wall (s) | ms per added resource (vs previous row) | peak RSS (MiB) |",
              "|---:|---:|---:|---:|---:|"]  # fmt: skip
    previous: tuple[int, float] | None = None
    for copies in SCALES:
        wall, peak, count = _median_runs([sys.executable, "-c", _scaled_code(copies)], args.runs)
        marginal = "-" if previous is None else f"{1000 * (wall - previous[1]) / (count - previous[0]):.2f}"
        lines.append(f"| {copies} | {count} | {wall:.2f} | {marginal} | {peak:.0f} |")
        previous = (count, wall)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
