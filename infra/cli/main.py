"""``bc-sales`` -- validate, review, and the local tools, one command.

Subcommands::

    bc-sales validate --stack NAME [--stack NAME ...] | --all-stacks
    bc-sales review --base REF [--head REF] [--repo PATH]
    bc-sales emulator [emulator options ...]          (the local cloud; the optional extra `emulator`)
    bc-sales mock-run --stack NAME [--out FILE]       (the program under Pulumi's mock runtime)

Exit status, for every subcommand: 0 done and nothing wrong; 1 problems found (listed); 2 usage
mistakes (unknown option or stack, bad revision, a tool that is not installed).  User mistakes
are reported as text, never as a Python traceback.

The emulator (the top-level package ``emulator``, installed with ``pip install
'bc-sales-infra[emulator]'``) is imported only when its subcommand runs; the mock run is
``python -m devkit.mockrun`` in a subprocess.  Apart from that one lazy import behind
``bc-sales emulator``, ``infra`` imports neither, so it works without them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Sequence

from infra.program.config import PROJECT_ROOT

__all__ = ["main", "project_dir"]

PROG = "bc-sales"
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def project_dir(start: Path | None = None) -> Path:
    """The folder holding ``Pulumi.yaml``: upwards from ``start`` (the working directory), else the
    checkout this package was installed from."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return PROJECT_ROOT


# --- validate -----------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    from infra.validate import UnknownStackError, stack_names, validate_stack

    root = Path(args.project_dir).resolve() if args.project_dir else project_dir()
    if not (root / "Pulumi.yaml").is_file():
        print(f"{PROG} validate: {root} has no Pulumi.yaml (run it inside the project, or give --project-dir)",
              file=sys.stderr)
        return EXIT_USAGE
    stacks = stack_names(root) if args.all_stacks else list(dict.fromkeys(args.stack))
    if not stacks:
        print(f"{PROG} validate: no stack files (Pulumi.<stack>.yaml) in {root}", file=sys.stderr)
        return EXIT_USAGE
    results = {}
    for stack in stacks:
        try:
            results[stack] = validate_stack(root, stack)
        except UnknownStackError as exc:
            print(f"{PROG} validate: {exc}", file=sys.stderr)
            return EXIT_USAGE
    failing = [stack for stack, problems in results.items() if problems]
    status = EXIT_PROBLEMS if failing else EXIT_OK
    try:
        _print_problems(results)
    except BrokenPipeError:  # `bc-sales validate ... | head`: the status still tells
        _silence_stdout()
        return status
    if failing:
        total = len({str(p) for stack in failing for p in results[stack]})
        print(f"{PROG} validate: {total} problem{'s' if total != 1 else ''} in stack"
              f"{'s' if len(failing) != 1 else ''} {', '.join(failing)} (nothing was deployed)", file=sys.stderr)
    return status


def _print_problems(results: dict) -> None:
    reported: set[str] = set()
    for stack, problems in results.items():
        if not problems:
            print(f"stack {stack}: no problems")
            continue
        fresh = [p for p in problems if str(p) not in reported]
        reported.update(str(p) for p in problems)
        print(f"stack {stack}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
              + (f" ({len(problems) - len(fresh)} shown above)" if len(fresh) < len(problems) else ""))
        for p in fresh:
            print(f"  {p}")
    sys.stdout.flush()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


# --- review -------------------------------------------------------------------------------------


def _review(args: argparse.Namespace) -> int:
    from infra.review import run

    return run(args, prog=f"{PROG} review")


# --- the local tools (emulator, devkit) ------------------------------------------------------------

#: What ``import emulator`` needs: the package itself and the optional extra's distributions.
_EMULATOR_MODULES = frozenset({"emulator", "starlette", "uvicorn", "jwt", "trustme", "cryptography", "yaml"})


def _emulator(args: argparse.Namespace) -> int:
    try:
        from emulator.__main__ import main as emulator_main
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in _EMULATOR_MODULES:
            raise
        print(f"{PROG} emulator: the emulator is not installed (no module {missing!r}); install the optional "
              "extra: pip install 'bc-sales-infra[emulator]' (from a checkout: pip install -e '.[emulator]')",
              file=sys.stderr)
        return EXIT_USAGE

    extra = list(args.emulator_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    try:
        return emulator_main(extra, prog=f"{PROG} emulator")
    except SystemExit as exc:  # argparse inside the emulator: 2 for usage mistakes
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE


def _mock_run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("devkit") is None:
        print(f"{PROG} mock-run: needs the project's devkit package, which is installed with this one: "
              "reinstall with `pip install -e .` in the repository", file=sys.stderr)
        return EXIT_USAGE
    root = project_dir()
    with tempfile.TemporaryDirectory(prefix="bc-sales-mockrun-") as tmp:
        out = Path(args.out).resolve() if args.out else Path(tmp) / "record.json"
        cmd = [sys.executable, "-m", "devkit.mockrun", "--stack", args.stack, "--out", str(out),
               "--overrides", args.overrides, "--project-dir", str(root)]
        if args.preview:
            cmd.append("--preview")
        # The run's stderr is held back: a program failure is in the record, and printed once below.
        done = subprocess.run(cmd, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=False,
                              stderr=subprocess.PIPE, text=True)
        if not out.is_file():
            sys.stderr.write(done.stderr)
            print(f"{PROG} mock-run: the run wrote no record (exit status {done.returncode})", file=sys.stderr)
            return done.returncode or EXIT_PROBLEMS
        record = json.loads(out.read_text())
    if not record.get("error"):
        sys.stderr.write(done.stderr)
    kinds = Counter(r["type"] for r in record.get("resources", []))
    print(f"stack {args.stack}: {sum(kinds.values())} resources registered under the mock runtime")
    for kind, count in sorted(kinds.items()):
        print(f"  {count:3d}  {kind}")
    if record.get("outputs"):
        print("outputs: " + ", ".join(sorted(record["outputs"])))
    if record.get("error"):
        print(f"{PROG} mock-run: the program failed ({record.get('error_kind')}):\n{record['error']}", file=sys.stderr)
        return EXIT_PROBLEMS
    return done.returncode


# --- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``bc-sales`` argument parser with its four subcommands (``run`` set on each)."""
    from infra.review import add_arguments as review_arguments

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Business Central <-> Dynamics 365 Sales as code: check a stack offline, review role "
        "changes, run the local tools. Exit status: 0 ok, 1 problems found, 2 usage mistake.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    v = sub.add_parser("validate", help="check stacks offline (config, role files, solution package)",
                       description="Check stacks without the Pulumi CLI or the network and list every problem "
                       "with file, line, key and what is allowed.")
    which = v.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", action="append", metavar="NAME", help="stack to check (repeatable)")
    which.add_argument("--all-stacks", action="store_true", help="every Pulumi.<stack>.yaml of the project")
    v.add_argument("--project-dir", metavar="DIR", help="the folder with Pulumi.yaml (default: found upwards from .)")
    v.set_defaults(run=_validate)

    r = sub.add_parser("review", help="Markdown of role and solution changes between two git revisions",
                       description="The role-diff review aid (same as python -m infra.review). Exit status 1 when "
                       "a role file or package does not load at the head revision.")
    review_arguments(r)
    r.set_defaults(run=_review)

    e = sub.add_parser("emulator", help="start the local cloud emulator (Entra, Graph, Dataverse)",
                       description="Run the local cloud emulator (any working directory; the optional extra "
                       "`emulator`); "
                       "arguments after the subcommand go to the emulator, e.g. "
                       "bc-sales emulator --port 0 --state .emulator --snapshot; bc-sales emulator --help lists "
                       "the emulator's options.", add_help=False)
    e.add_argument("emulator_args", nargs=argparse.REMAINDER, metavar="...")
    e.set_defaults(run=_emulator)

    m = sub.add_parser("mock-run", help="run the program under Pulumi's mock runtime (no CLI, no cloud)",
                       description="Run infra/__main__.py for a stack under Pulumi's mock runtime in a fresh "
                       "process and summarise what it registers; exit 1 when the program fails.")
    m.add_argument("--stack", required=True, metavar="NAME")
    m.add_argument("--overrides", default="{}", metavar="JSON", help="config key -> value (null removes)")
    m.add_argument("--out", metavar="FILE", help="also keep the full record (JSON) here")
    m.add_argument("--preview", action="store_true", help="run as a preview (dry run)")
    m.set_defaults(run=_mock_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bc-sales`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status
    (0 ok, 1 problems found, 2 usage mistake, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["emulator"]:  # everything after the subcommand belongs to the emulator
        args = argparse.Namespace(emulator_args=argv[1:], run=_emulator)
    else:
        args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
