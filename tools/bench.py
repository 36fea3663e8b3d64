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
    f"{FLOOR}; pulumi_aws.ec2.Vpc, pulumi_aws.iam.Role, pulumi_aws.kms.Key, pulumi_aws.cloudwatch.LogGroup, "
    "pulumi_aws.vpc.SecurityGroupIngressRule, pulumi_aws.rds.Instance, pulumi_aws.elasticache.ReplicationGroup, "
    "pulumi_aws.s3.Bucket, pulumi_aws.sns.Topic, pulumi_aws.secretsmanager.Secret, pulumi_random.RandomPassword, "
    "pulumi_aws.eks.Cluster, pulumi_kubernetes.storage.v1.StorageClass"
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
        "from components.context import stack_context\n"
        "from components.naming import Naming\n"
        "from components.network import Network, NetworkArgs\n"
        "from tools.engine import run_program\n"
        "raw = yaml.safe_load(Path('Pulumi.prod.yaml').read_text())['config']['platform:network']\n"
        "config = NetworkConfig.model_validate(raw)\n"
        "def program():\n"
        "    p = aws.Provider('aws', region='ca-central-1')\n"
        f"    for i in range({copies}):\n"
        "        context = stack_context(Naming('platform', f'bench{i}'), 'ca-central-1', {}, p)\n"
        "        args = NetworkArgs(config=config, context=context)\n"
        "        Network(f'net{i}', args, opts=pulumi.ResourceOptions(provider=p))\n"
        "run = run_program(program, project='platform', stack='bench', mode='update',\n"
        "                  config={'aws:region': 'ca-central-1'})\n"
        "print(len(run.resources))\n"
    )


GATE_CODE = """
import json, runpy, time
from pathlib import Path
from tools.engine import run_program
from tools.policy_gate import evaluate, load_policy_config, running_pack
from tools.stackconfig import load_stack_config
config = load_stack_config(Path('.'), 'prod')
t0 = time.perf_counter()
run = run_program(lambda: runpy.run_path('__main__.py', run_name='__main__'), project=config.project, stack='prod',
                  mode='update', config=config.values, secret_keys=config.secret_keys)
t1 = time.perf_counter()
with running_pack() as pack:
    client = pack.client()
    t2 = time.perf_counter()
    result = evaluate(client, run, load_policy_config('prod'))
    t3 = time.perf_counter()
print(json.dumps({"program": t1 - t0, "start": t2 - t1, "evaluate": t3 - t2, "resources": len(run.resources),
                  "policies": len(result.policies)}))
"""


# The gate as tools.preview runs it: Analyze streamed while the program runs, then what is
# left after the program (the Analyze backlog, AnalyzeStack). Peak RSS of both processes.
STREAM_CODE = """
import json, resource, runpy, time
from pathlib import Path
from tools.engine import run_program
from tools.policy_gate import AnalyzeStream, load_policy_config, running_pack
from tools.stackconfig import load_stack_config
config = load_stack_config(Path('.'), 'prod')
t0 = time.perf_counter()
with running_pack() as pack:
    stream = AnalyzeStream(pack.client, load_policy_config('prod'), stack='prod', project=config.project, mode='update')
    run = run_program(lambda: runpy.run_path('__main__.py', run_name='__main__'), project=config.project,
                      stack='prod', mode='update', config=config.values, secret_keys=config.secret_keys,
                      on_record=stream.submit)
    t1 = time.perf_counter()
    stream.finish(run)
    t2 = time.perf_counter()
    stream.close()
    status = Path(f'/proc/{pack.process.pid}/status').read_text()
    pack_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith('VmHWM:')))
engine_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"streamed_program": t1 - t0, "after_program": t2 - t1,
                  "engine_mib": engine_kib / 1024, "pack_mib": pack_kib / 1024}))
"""


PROGRAM_ONLY_CODE = """
import runpy
from pathlib import Path
from tools.engine import run_program
from tools.stackconfig import load_stack_config
config = load_stack_config(Path('.'), 'prod')
run = run_program(lambda: runpy.run_path('__main__.py', run_name='__main__'), project=config.project, stack='prod',
                  mode='update', config=config.values, secret_keys=config.secret_keys)
print(len(run.resources))
"""


def _gate_phases(runs: int, code: str = GATE_CODE) -> dict[str, float]:
    samples = [json.loads(_measure([sys.executable, "-c", code])[2]) for _ in range(runs)]
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


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
        f"| floor + the SDK modules the program uses (ec2, iam, kms, logs, rds, elasticache, s3, eks, ...) "
        f"| - | {services_wall:.2f} "
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
    phases = _gate_phases(args.runs)
    streamed = _gate_phases(args.runs, STREAM_CODE)
    per_resource = 1000 * phases["evaluate"] / phases["resources"]
    without, _, _ = _median_runs([sys.executable, "-c", PROGRAM_ONLY_CODE], args.runs)
    with_gate, _, _ = _median_runs(
        [sys.executable, "-m", "tools.preview", "--stack", "prod", "--mode", "update", "--json"], args.runs
    )
    lines += [
        "",
        f"Policy gate on prod (update mode, {phases['policies']:.0f} policies, {phases['resources']:.0f} resources, "
        "through the gRPC analyzer protocol):",
        "",
        "| phase | seconds |",
        "|---|---:|",
        f"| start the pack (python -m pulumi.policy), alone | {phases['start']:.2f} |",
        f"| Analyze every resource + AnalyzeStack over the finished run (`evaluate`: the pack's whole work) "
        f"| {phases['evaluate']:.3f} ({per_resource:.2f} ms per resource) |",
        f"| streamed as `tools.preview` runs it: the program, Analyze sent as resources register "
        f"| {streamed['streamed_program']:.2f} (alone: {phases['program']:.2f}) |",
        f"| streamed: the gate after the program (Analyze backlog + AnalyzeStack) | {streamed['after_program']:.2f} |",
        f"| streamed: peak RSS, engine process + pack process (MiB) | {streamed['engine_mib']:.0f} + "
        f"{streamed['pack_mib']:.0f} = {streamed['engine_mib'] + streamed['pack_mib']:.0f} |",
        f"| prod update without the gate (engine only, fresh process) | {without:.2f} |",
        f"| prod update with the gate (`tools.preview`; the pack starts while the program runs) "
        f"| {with_gate:.2f} (+{100 * (with_gate - without) / without:.0f}%) |",
    ]
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
