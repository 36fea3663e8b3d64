"""Offline preview of a stack: ``python -m tools.preview --stack dev``.

Runs ``__main__.py`` with the stack's config under the SDK's mocks (no cloud
account, no credentials, no Pulumi CLI) and prints what ``pulumi preview``
would create.

Exit codes: 0 fine; 1 mandatory policy violations; 2 a config, stack-file or
program error (one clear message, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

from tools.engine import EngineError, Run, run_program
from tools.estimate import EstimateError, estimate, load_previous, render_estimate
from tools.policy_gate import AnalyzeStream, PolicyError, load_policy_config, running_pack
from tools.render import kubernetes_manifests, run_dot, run_json, run_text
from tools.stackconfig import StackFileError, load_stack_config

PROJECT_DIR = Path(__file__).resolve().parent.parent

EXIT_OK, EXIT_POLICY, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.preview",
        description="Offline preview of a stack: runs the program under the Pulumi SDK's mocks.",
    )
    parser.add_argument("--stack", required=True, help="stack name; its config is Pulumi.<stack>.yaml")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="the Pulumi project to run: its Pulumi.yaml, stack files and __main__.py (default: this repository)",
    )
    parser.add_argument(
        "--mode",
        choices=["preview", "update"],
        default="preview",
        help="preview: computed outputs unknown, as a first `pulumi preview`; "
        "update: computed outputs filled with realistic fakes, as `pulumi up` (default: preview)",
    )
    parser.add_argument("--config-file", type=Path, help="use this stack file instead of Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help='print one JSON document (secrets as "[secret]")')
    parser.add_argument("--out", type=Path, help="write artifacts here: graph.dot, graph.png, manifests/*.yaml")
    parser.add_argument(
        "--policy-config",
        type=Path,
        help="policy config file for the gate (default: policy/config/<stack>.json)",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="add the monthly cost per component and the rollout's critical path (docs/estimates.md)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="OTHER.json",
        help="with the cost change against OTHER.json, a previous --json --estimate document (implies --estimate)",
    )
    return parser


def _write_artifacts(run: Run, out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    notes = []
    dot_file = out / "graph.dot"
    dot_file.write_text(run_dot(run), encoding="utf-8")
    notes.append(f"wrote {dot_file}")
    manifests = kubernetes_manifests(run)
    if manifests:
        folder = out / "manifests"
        folder.mkdir(exist_ok=True)
        for file_name, text in manifests.items():
            path = folder / file_name  # a Chart's objects sit in a folder of their own
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        notes.append(f"wrote {len(manifests)} Kubernetes manifests to {folder}")
    dot = shutil.which("dot")
    if dot is None:
        notes.append("graphviz `dot` is not installed: graph.png skipped (apt-get install graphviz)")
    else:
        subprocess.run([dot, "-Tpng", "-o", str(out / "graph.png"), str(dot_file)], check=True)
        notes.append(f"wrote {out / 'graph.png'}")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        # Read before the chdir below, so that a relative path is the caller's.
        previous = load_previous(args.compare) if args.compare else None
    except EstimateError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    project_dir = args.project_dir.resolve()
    # The program imports its own modules and reads files relative to itself.
    os.chdir(project_dir)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))

    try:
        config = load_stack_config(project_dir, args.stack, args.config_file)
        policy_config = load_policy_config(args.stack, args.policy_config)
    except (StackFileError, PolicyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR

    # The gate is the real pack, driven through its analyzer protocol as the
    # CLI does; started first so that its start-up overlaps the program's, and
    # each resource's Analyze is sent as the program registers it (the pack
    # analyses in its own process while the program goes on).
    with running_pack() as pack:
        stream = AnalyzeStream(pack.client, policy_config, stack=args.stack, project=config.project, mode=args.mode)
        try:
            run = run_program(
                lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__"),
                project=config.project,
                stack=args.stack,
                mode=args.mode,
                config=config.values,
                secret_keys=config.secret_keys,
                project_dir=project_dir,
                on_record=stream.submit,
            )
            run.placeholders = config.placeholders
            result = stream.finish(run)
        except (EngineError, PolicyError) as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_ERROR
        finally:
            stream.close()

    policy = result.as_json()
    document = run_json(run, policy)
    if args.estimate or previous is not None:
        try:
            document["estimate"] = estimate(document, previous)
        except EstimateError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_ERROR
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=False))
    else:
        print(run_text(run, policy))
        if "estimate" in document:
            print(render_estimate(document["estimate"]))
    if args.out:
        try:
            notes = _write_artifacts(run, args.out)
        except (OSError, subprocess.CalledProcessError) as err:
            print(f"error: cannot write artifacts to {args.out}: {err}", file=sys.stderr)
            return EXIT_ERROR
        for note in notes:
            print(note, file=sys.stderr)
    return EXIT_POLICY if result.mandatory else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
