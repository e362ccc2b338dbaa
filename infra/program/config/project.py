"""Where the project is and what it is called: the constants every config module shares."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ENDPOINT_ENV_VARS", "PROJECT", "PROJECT_ROOT", "SECRET_KEYS"]

#: The Pulumi project name: config keys are ``bc-sales:<key>``.
PROJECT = "bc-sales"
#: The folder holding ``Pulumi.yaml``; relative paths in config are relative to it (the CLI runs
#: the program with ``infra/`` as working directory, so the cwd is not a usable base).
PROJECT_ROOT = Path(__file__).resolve().parents[3]

#: Environment variables that replace the endpoint keys when ``endpointsFromEnvironment`` is true
#: (the local stack: the emulator listens on a new port each start; scripts/local-up.sh sets them).
ENDPOINT_ENV_VARS: dict[str, str] = {
    "environmentUrl": "BC_SALES_ENVIRONMENT_URL",
    "authorityHost": "BC_SALES_AUTHORITY_HOST",
    "graphUrl": "BC_SALES_GRAPH_URL",
    "caBundle": "BC_SALES_CA_BUNDLE",
    "powerPlatformUrl": "BC_SALES_POWER_PLATFORM_URL",
}

#: Keys whose value must be a Pulumi secret (``secure:`` in the stack file).
SECRET_KEYS = ("applicationClientSecret",)
