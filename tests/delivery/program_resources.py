"""Run the Pulumi program under pulumi's mock runtime and print the resources it registers.

Used by test_policy_program.py to put the program's real resource graph through the policy pack
without the CLI or any cloud. Runs in a subprocess because the mock runtime is process-global.

    python -m tests.delivery.program_resources STACK CONFIG_JSON
prints one JSON list of {"type", "name", "inputs"} on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import sys
from typing import Any

import pulumi


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = {k: v for k, v in args.inputs.items() if not k.startswith("__")}
        self.resources.append({"type": args.typ, "name": args.name, "inputs": inputs})
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def main(argv: list[str]) -> int:
    stack, config = argv[0], json.loads(argv[1])
    os.environ["PULUMI_CONFIG"] = json.dumps({f"bc-sales:{k}": (v if isinstance(v, str) else json.dumps(v))
                                              for k, v in config.items()})
    recorder = _Recorder()
    pulumi.runtime.set_mocks(recorder, project="bc-sales", stack=stack, preview=False)
    runpy.run_module("infra", run_name="__main__")
    # Let the pending registrations finish before reading the record. A finished registration can
    # start new tasks (a child waits on its parent's URN), so drain until nothing is left.
    loop = asyncio.get_event_loop()
    while pending := [t for t in asyncio.all_tasks(loop) if not t.done()]:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    json.dump(recorder.resources, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
