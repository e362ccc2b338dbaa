"""The bc-sales-guardrails pack as pulumi-policy objects, as a served pack, and against the project.

* each ResourceValidationPolicy is called with pulumi-policy's own ResourceValidationArgs (props
  wrapped in the engine's unknown-checking proxy), one compliant and one violating resource each;
* the pack is started as the CLI starts it (`policy/__main__.py` prints its gRPC port) and asked,
  over the analyzer protocol, for its policies and for a verdict on a violating resource;
* the pack's facts, defaults and config agree with infra/ (roles/, the secret rotation, facts.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE

import guardrails as g
import policies as p
from infra import facts
from infra.model.privileges import privilege_stem
from tests.delivery.conftest import POLICY_DIR, REPO
from tests.delivery.policy_helpers import run_policy, run_stack_policy, urn_for

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
CONNECTION = {"environment_url": "https://contoso.crm.dynamics.com", "tenant_id": "6b1c2d3e-0000-4000-8000-00000000a001"}


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(p, "clock", lambda: NOW)


# --- one passing and one violating resource per policy ---------------------------------------


def test_integration_user_policy() -> None:
    policy = p.integration_user_not_system_administrator
    ok = {"connection": CONNECTION, "object_id": "x", "integration_user": True,
          "roles": ["6f960e32-a72b-e511-80d9-3863bb349780", "8c8d4f51-a72b-e511-80d9-3863bb349780"]}
    assert run_policy(policy, g.USER_ROLE_ASSIGNMENT_TYPE, ok) == []
    bad = {**ok, "roles": [*ok["roles"], "System Administrator"]}
    [message] = run_policy(policy, g.USER_ROLE_ASSIGNMENT_TYPE, bad)
    assert "roles[2]" in message
    # a salesperson is not the integration user: the rule does not apply
    assert run_policy(policy, g.USER_ROLE_ASSIGNMENT_TYPE, {**bad, "integration_user": False}) == []
    # application users (server-to-server) are integration identities too, unless configured off
    app_user = {"connection": CONNECTION, "application_id": "a", "roles": ["627090ff-40a3-4053-8790-584edc5be201"]}
    assert run_policy(policy, g.APPLICATION_USER_TYPE, app_user)
    assert run_policy(policy, g.APPLICATION_USER_TYPE, app_user, config={"includeApplicationUsers": False}) == []


def test_integration_user_policy_judges_the_type_recorded_before_the_rename() -> None:
    """Stacks recorded before UserAccess became UserRoleAssignment still carry the old type."""
    [old] = [t for t in g.USER_ROLE_ASSIGNMENT_TYPES if t != g.USER_ROLE_ASSIGNMENT_TYPE]
    assert old == "pulumi-python:dynamic/dataverse:UserAccess"
    bad = {"connection": CONNECTION, "object_id": "x", "integration_user": True, "roles": ["System Administrator"]}
    assert len(run_policy(p.integration_user_not_system_administrator, old, bad)) == 1


def test_integration_user_policy_checks_known_roles_while_others_are_unknown() -> None:
    props = {"integration_user": True, "roles": [UNKNOWN_STRING_VALUE, "System Administrator"]}
    assert len(run_policy(p.integration_user_not_system_administrator, g.USER_ROLE_ASSIGNMENT_TYPE, props)) == 1
    props = {"integration_user": True, "roles": UNKNOWN_ARRAY_VALUE}
    assert run_policy(p.integration_user_not_system_administrator, g.USER_ROLE_ASSIGNMENT_TYPE, props) == []


def test_held_system_administrator_stack_policy() -> None:
    """A refresh recorded that the integration user holds System Administrator (given by hand):
    the stack rule reads the recorded outputs, which the program's inputs never show."""
    policy = p.integration_user_holds_no_system_administrator
    held = ["System Administrator (6b1c2d3e-0000-4000-8000-00000000a101)"]
    integration = {"integration_user": True, "roles": ["System Administrator"], "forbidden_roles_held": held}
    [(message, urn)] = run_stack_policy(policy, [
        (g.USER_ROLE_ASSIGNMENT_TYPE, "access-integration-user", integration),
        (g.USER_ROLE_ASSIGNMENT_TYPE, "access-sales01", {"integration_user": False, "forbidden_roles_held": held}),
        (g.USER_ROLE_ASSIGNMENT_TYPE, "access-sales02", {"integration_user": True, "forbidden_roles_held": []}),
        (g.SOLUTION_IMPORT_TYPE, "solution", {"managed": True}),
    ])
    assert "System Administrator" in message and "Manage security roles" in message
    assert urn == urn_for("dev", g.USER_ROLE_ASSIGNMENT_TYPE, "access-integration-user")
    app_user = (g.APPLICATION_USER_TYPE, "application-user", {"forbidden_roles_held": held})
    [(message, _)] = run_stack_policy(policy, [app_user])
    assert "the application user holds" in message
    assert run_stack_policy(policy, [app_user], config={"includeApplicationUsers": False}) == []
    # a preview of a resource not created yet: outputs unknown, nothing to say
    unknown = (g.USER_ROLE_ASSIGNMENT_TYPE, "new", {"integration_user": True, "forbidden_roles_held": UNKNOWN_ARRAY_VALUE})
    assert run_stack_policy(policy, [unknown]) == []


def test_managed_solution_policy() -> None:
    policy = p.prod_imports_managed_solutions_only
    props = {"connection": CONNECTION, "unique_name": facts.SALES_INTEGRATION_SOLUTION, "version": "1.0.0.0", "managed": True}
    assert run_policy(policy, g.SOLUTION_IMPORT_TYPE, props, stack="prod") == []
    unmanaged = {**props, "managed": False}
    assert run_policy(policy, g.SOLUTION_IMPORT_TYPE, unmanaged, stack="dev") == []
    [message] = run_policy(policy, g.SOLUTION_IMPORT_TYPE, unmanaged, stack="prod")
    assert "'prod'" in message
    assert run_policy(policy, g.SOLUTION_IMPORT_TYPE, unmanaged, stack="dev", config={"requireManaged": True})


def test_managed_solution_policy_understands_solution_source_business_central() -> None:
    """No import to inspect: the requirement must refuse an unmanaged installed solution instead."""
    policy = p.prod_imports_managed_solutions_only
    props = {"connection": CONNECTION, "unique_name": facts.SALES_INTEGRATION_SOLUTION, "minimum_version": "",
             "require_managed": True}
    assert run_policy(policy, g.SOLUTION_REQUIREMENT_TYPE, props, stack="prod") == []
    lax = {**props, "require_managed": False}
    assert run_policy(policy, g.SOLUTION_REQUIREMENT_TYPE, lax, stack="dev") == []
    [message] = run_policy(policy, g.SOLUTION_REQUIREMENT_TYPE, lax, stack="prod")
    assert "'prod'" in message and "allowUnmanagedSolution: false" in message
    assert run_policy(policy, g.SOLUTION_REQUIREMENT_TYPE, lax, stack="dev", config={"requireManaged": True})


def test_client_secret_policy() -> None:
    policy = p.client_secrets_expire
    good = {"application_id": "/applications/x", "endDate": "2027-03-01T00:00:00Z"}
    assert run_policy(policy, g.APPLICATION_PASSWORD_TYPE, good) == []
    assert run_policy(policy, g.APPLICATION_PASSWORD_TYPE, {"endDateRelative": "2160h"}) == []
    [message] = run_policy(policy, g.APPLICATION_PASSWORD_TYPE, {"application_id": "/applications/x"})
    assert "two years" in message
    assert run_policy(policy, g.SERVICE_PRINCIPAL_PASSWORD_TYPE, {"endDate": "2028-11-25T00:00:00Z"})
    assert run_policy(policy, g.APPLICATION_PASSWORD_TYPE, {"endDate": "2027-03-01T00:00:00Z"},
                      config={"maxLifetimeDays": 30})
    # the inline password block of azuread.Application
    assert run_policy(policy, g.APPLICATION_TYPE, {"displayName": "app"}) == []
    assert run_policy(policy, g.APPLICATION_TYPE, {"password": {"displayName": "p", "endDate": "2029-01-01T00:00:00Z"}})


def test_global_delete_policy() -> None:
    policy = p.no_global_delete_on_core_tables
    ok = {"connection": CONNECTION, "name": "Integration User", "role_id": None,
          "privileges": {"prvDeleteNote": "Global", "prvReadAccount": "Global", "prvDeleteAccount": "Basic"}}
    assert run_policy(policy, g.SECURITY_ROLE_TYPE, ok) == []
    bad = {**ok, "privileges": {**ok["privileges"], "prvDeleteOpportunity": "Global"}}
    [message] = run_policy(policy, g.SECURITY_ROLE_TYPE, bad)
    assert "prvDeleteOpportunity" in message
    allow = {"allowlist": [{"role": "Integration User", "table": "opportunity"}]}
    assert run_policy(policy, g.SECURITY_ROLE_TYPE, bad, config=allow) == []


def test_policies_ignore_other_resource_types() -> None:
    for policy in p.POLICIES:
        assert run_policy(policy, "random:index/randomPassword:RandomPassword", {"length": 32}) == []


def test_bad_policy_config_raises_a_named_error() -> None:
    with pytest.raises(g.GuardrailConfigError, match="client-secrets-expire.*maxLifetimeDays.*'ninety'"):
        run_policy(p.client_secrets_expire, g.APPLICATION_PASSWORD_TYPE, {"endDate": "2027-01-01T00:00:00Z"},
                   config={"maxLifetimeDays": "ninety"})


# --- the pack as the CLI runs it ----------------------------------------------------------------


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and file
        [sys.executable, str(POLICY_DIR / "__main__.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    try:
        line = proc.stdout.readline().decode().strip() if proc.stdout else ""
        assert line.isdigit(), f"the pack did not print its port: {line!r} / {proc.stderr.read() if proc.poll() is not None and proc.stderr else ''}"
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            grpc.channel_ready_future(channel).result(timeout=20)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(values))
    return s


def test_served_pack_lists_its_mandatory_policies(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=20)
    assert info.name == "bc-sales-guardrails"
    names = {policy.name for policy in info.policies}
    assert names == {policy.name for policy in p.ALL_POLICIES} == {
        "integration-user-not-system-administrator",
        "integration-user-holds-no-system-administrator",
        "prod-imports-managed-solutions-only",
        "client-secrets-expire",
        "no-global-delete-on-core-tables",
    }
    assert {policy.enforcementLevel for policy in info.policies} == {analyzer_pb2.MANDATORY}


def test_served_pack_reports_a_violation_with_project_config(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    config = json.loads((POLICY_DIR / "config.json").read_text(encoding="utf-8"))
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, values in config.items():
        props = {k: v for k, v in values.items() if k != "enforcementLevel"}
        request.policyConfig[name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY, properties=_struct(props))
        )
    analyzer.Configure(request, timeout=20)
    bad = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=g.SOLUTION_IMPORT_TYPE, name="solution",
            urn=urn_for("prod", g.SOLUTION_IMPORT_TYPE, "solution"),
            properties=_struct({"managed": False, "unique_name": facts.SALES_INTEGRATION_SOLUTION}),
        ),
        timeout=20,
    )
    [diagnostic] = bad.diagnostics
    assert diagnostic.policyName == "prod-imports-managed-solutions-only"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    good = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=g.SOLUTION_IMPORT_TYPE, name="solution",
            urn=urn_for("prod", g.SOLUTION_IMPORT_TYPE, "solution"),
            properties=_struct({"managed": True}),
        ),
        timeout=20,
    )
    assert list(good.diagnostics) == []


# --- agreement with the project -----------------------------------------------------------------


def test_pack_files() -> None:
    meta = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert meta["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    requirements = (POLICY_DIR / "requirements.txt").read_text(encoding="utf-8")
    pins = dict(line.split("==", 1) for line in requirements.splitlines()
                if line.strip() and not line.startswith("#"))
    assert set(pins) == {"pulumi", "pulumi-policy"}, requirements
    assert all(re.fullmatch(r"\d+(\.\d+)+", v) for v in pins.values()), "pin exact versions"
    main = (POLICY_DIR / "__main__.py").read_text(encoding="utf-8")
    assert "PolicyPack(" in main and "EnforcementLevel.MANDATORY" in main
    assert p.PACK_NAME == "bc-sales-guardrails"


def test_config_json_matches_the_policy_schemas() -> None:
    config = json.loads((POLICY_DIR / "config.json").read_text(encoding="utf-8"))
    by_name = {policy.name: policy for policy in p.ALL_POLICIES}
    assert set(config) == set(by_name)
    for name, values in config.items():
        schema = by_name[name].config_schema
        assert schema is not None
        unknown = set(values) - set(schema.properties) - {"enforcementLevel"}
        assert not unknown, f"{name}: keys the policy does not declare: {unknown}"
        assert values.get("enforcementLevel", "mandatory") == EnforcementLevel.MANDATORY.value
    # the values parse
    g.forbidden_roles(config["integration-user-not-system-administrator"])
    g.managed_only_stacks(config["prod-imports-managed-solutions-only"])
    assert g.max_secret_lifetime_days(config["client-secrets-expire"]) == 180
    g.global_delete_config(config["no-global-delete-on-core-tables"])


def test_pack_facts_agree_with_infra_facts() -> None:
    assert g.SYSTEM_ADMINISTRATOR_TEMPLATE_ID == facts.SYSTEM_ADMINISTRATOR_TEMPLATE_ID
    for table, stem in g.DEFAULT_CORE_TABLE_STEMS.items():
        assert privilege_stem(table).lower() == stem.lower(), table


def test_the_projects_roles_pass_the_global_delete_rule() -> None:
    from infra.model.roles import load_roles

    roles = load_roles(REPO / "roles")
    specs = roles.values() if isinstance(roles, Mapping) else roles
    checked = 0
    for spec in specs:
        assert g.global_delete_violations(spec.name, spec.privileges) == [], spec.name
        checked += 1
    assert checked == 3


def test_the_programs_secret_rotation_fits_the_default_limit() -> None:
    """IntegrationIdentity's secret expires 2 x clientSecretRotationDays after its period starts.

    With the dev stack's 90 days that is within the pack's 180-day default on every day of a
    period; with 180 days it is not (docs/ci-cd.md says so).
    """
    from infra.program.identity import rotation_period

    for offset in range(0, 200, 7):
        now = NOW + dt.timedelta(days=offset)
        end = rotation_period(now, 90).end_date_rfc3339
        assert g.secret_lifetime_violations(end, None, now=now, max_days=180) == [], now
    assert any(
        g.secret_lifetime_violations(rotation_period(NOW + dt.timedelta(days=d), 180).end_date_rfc3339, None,
                                     now=NOW + dt.timedelta(days=d), max_days=180)
        for d in range(0, 180, 7)
    )
