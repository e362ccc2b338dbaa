"""Each rule of `bc-sales validate`, with a failing and a passing input (infra.validate)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra import facts
from infra.validate import UnknownStackError, load_catalog, validate_stack
from infra.validate.catalog import suggest
from tests.program.packages import vendor_like_zip
from tests.validate.conftest import REAL_STACK, REPO, Project


def problems(project: Project, stack: str = "real") -> list[str]:
    return [str(p) for p in validate_stack(project.root, stack, env={})]


@pytest.fixture
def real(project: Project) -> Project:
    """The scratch project with the clean real stack written."""
    project.stack("real", REAL_STACK)
    return project


def after_edit(project: Project, role: str, old: str, new: str) -> list[str]:
    """The real stack's problems after replacing ``old`` with ``new`` in a role file."""
    project.edit_role(role, old, new)
    return problems(project)


def importing(package: Path) -> str:
    """The real stack importing ``package`` instead of leaving the solution to Business Central."""
    return REAL_STACK.replace("  bc-sales:solutionSource: business-central\n", f"  bc-sales:solutionPath: {package}\n")


def test_the_shipped_local_stack_is_clean() -> None:
    assert validate_stack(REPO, "local", env={}) == []


def test_a_real_stack_without_example_values_is_clean(project: Project) -> None:
    project.stack("real", REAL_STACK)
    assert problems(project) == []


def test_unknown_stack_is_a_usage_error(project: Project) -> None:
    with pytest.raises(UnknownStackError) as err:
        validate_stack(project.root, "staging", env={})
    assert "no stack 'staging'" in str(err.value) and "stacks: local" in str(err.value)


# --- the stack file through the config model, with lines ----------------------------------------


def test_config_mistakes_name_file_line_and_key(project: Project) -> None:
    project.stack("real", REAL_STACK.replace("3f2a9c4e-1b7d-4e8a-9c21-7d5e8f0a1b2c", "not-a-guid")
                  .replace("  bc-sales:seatCheck: \"off\"\n", "  bc-sales:seatCheck: \"off\"\n  bc-sales:tenantID: x\n"))
    found = problems(project)
    assert "Pulumi.real.yaml:2: bc-sales:tenantId: 'not-a-guid': expected a GUID such as " \
           "00000000-0000-0000-0000-000000000000" in found
    assert any(p.startswith("Pulumi.real.yaml:12: bc-sales:tenantID: unknown key (did you mean bc-sales:tenantId?)")
               for p in found), found


def test_nested_config_mistake_points_at_the_nested_line(project: Project) -> None:
    project.stack("real", REAL_STACK.replace("salespersonCode: ab", "salespersonCode: ab\n      licenceSku: X"))
    found = problems(project)
    assert any(p.startswith("Pulumi.real.yaml:11: bc-sales:salespeople[0].licenceSku: unknown key "
                            "(did you mean licenseSku?)") for p in found), found


def test_broken_stack_yaml_is_a_problem_not_a_traceback(project: Project) -> None:
    project.stack("real", "config:\n  bc-sales:tenantId: [unclosed\n")
    [found] = problems(project)
    assert found.startswith("Pulumi.real.yaml:3: YAML syntax error")


# --- placeholders ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "reason"), [
    ("00000000-0000-0000-0000-000000000000", "it is the all-zero GUID"),
    ("https://contoso.crm.dynamics.com", "it contains 'contoso'"),
    ("https://sales.example.com", "it contains 'example'"),
    ("https://PLACEHOLDER.crm.dynamics.com", "it contains 'PLACEHOLDER'"),
])
def test_placeholders_are_errors_outside_the_local_stack(project: Project, value: str, reason: str) -> None:
    key = "tenantId" if value.startswith("0000") else "environmentUrl"
    original = {"tenantId": "3f2a9c4e-1b7d-4e8a-9c21-7d5e8f0a1b2c",
                "environmentUrl": "https://fabrikam-sales.crm4.dynamics.com"}[key]
    project.stack("real", REAL_STACK.replace(original, value))
    found = problems(project)
    line = 2 if key == "tenantId" else 3
    assert any(p.startswith(f"Pulumi.real.yaml:{line}: bc-sales:{key}: {value!r} is an example value ({reason}")
               for p in found), found
    # the same value is fine in the local stack (the emulator's seed is contoso.example on purpose)
    project.stack("local", (REPO / "Pulumi.local.yaml").read_text())
    assert "example" in (project.root / "Pulumi.local.yaml").read_text()
    assert problems(project, "local") == []


def test_example_inside_a_word_is_not_a_placeholder(project: Project) -> None:
    project.stack("real", REAL_STACK.replace("fabrikam-sales", "counterexamples"))
    assert problems(project) == []


# --- role files against the catalog ----------------------------------------------------------------


def test_unknown_table_suggests_the_closest_known_one(real: Project) -> None:
    found = after_edit(real, "integration-user.yaml", "  contact:   ", "  contct:    ")
    assert any(p.startswith("roles/integration-user.yaml:14: tables.contct: unknown table 'contct' "
                            "(did you mean contact?); allowed: a standard table") for p in found), found


def test_a_table_of_another_solution_is_declared_with_the_solution_key(real: Project) -> None:
    found = after_edit(real, "product-availability-user.yaml", "nav_connection:        {verbs: [read], depth: global, "
                       "solution: MicrosoftDynamicsNavIntegration}",
                       "nav_connection:        {verbs: [read], depth: global}")
    assert any(p.startswith("roles/product-availability-user.yaml:10: tables.nav_connection: unknown table "
                            "'nav_connection' (did you mean connection?)") for p in found), found
    assert after_edit(real, "product-availability-user.yaml", "nav_connection:        {verbs: [read], depth: global}",
                      "nav_connection:        {verbs: [read], depth: global, solution: FabrikamExtras}") == []


def test_tables_the_configured_package_declares_are_known(project: Project, tmp_path: Path) -> None:
    standin = tmp_path / "standin"
    shutil.copytree(REPO / "solution" / "standin", standin)
    project.stack("local", (REPO / "Pulumi.local.yaml").read_text().replace("solution/standin", str(standin)))
    # the stand-in declares the nav_ tables: without the solution key they are still known
    for role in ("integration-user.yaml", "product-availability-user.yaml", "integration-administrator.yaml"):
        text = (project.root / "roles" / role).read_text()
        (project.root / "roles" / role).write_text(text.replace(", solution: MicrosoftDynamicsNavIntegration", ""))
    assert problems(project, "local") == []


def test_the_configured_package_must_declare_what_the_role_file_says_it_does(project: Project,
                                                                            tmp_path: Path) -> None:
    project.stack("real", importing(vendor_like_zip(tmp_path / "MicrosoftDynamicsNavIntegration.zip")))
    assert problems(project) == []  # the look-alike declares nav_connection and nav_accountstatistics
    found = after_edit(project, "product-availability-user.yaml", "  nav_connection:  ", "  nav_defaultconnection:  ")
    assert any("tables.nav_defaultconnection.solution: the configured package MicrosoftDynamicsNavIntegration "
               "9.0.0.1 does not declare table 'nav_defaultconnection'" in p for p in found), found


def test_depth_follows_ownership(real: Project) -> None:
    found = after_edit(real, "integration-user.yaml", "product:                      {verbs: [create, read, write, "
                       "append, append-to], depth: global}", "product:                      {verbs: [create, read, "
                       "write, append, append-to], depth: local}")
    assert any("tables.product.depth: product is organization-owned, so its privileges allow only global, not local"
               in p for p in found), found
    real.edit_role("integration-user.yaml", "depth: local}", "depth: global}")
    assert after_edit(real, "integration-user.yaml", "contact:              {verbs: [create, read, write, append, "
                      "append-to], depth: global}", "contact:              {verbs: [create, read, write, append, "
                      "append-to], depth: local}") == []  # contact is user-owned: local is fine


def test_assign_and_share_need_an_owner(real: Project) -> None:
    assert after_edit(real, "integration-user.yaml", "quote:                        {verbs: [read], depth: global}",
                      "quote:                        {verbs: [read, share], depth: global}") == []  # user-owned
    found = after_edit(real, "integration-user.yaml", "dynamicproperty:              {verbs: [read], depth: global}",
                       "dynamicproperty:              {verbs: [read, assign], depth: global}")
    assert any("tables.dynamicproperty.verbs: dynamicproperty is organization-owned: its records have no owner, "
               "so there is no 'assign' privilege" in p for p in found), found


def test_unknown_tableless_privilege_suggests(real: Project) -> None:
    found = after_edit(real, "integration-user.yaml", "ActOnBehalfOfAnotherUser: global", "ActOnBehalfOfAnotherUsr: global")
    assert any("privileges.ActOnBehalfOfAnotherUsr: unknown privilege 'prvActOnBehalfOfAnotherUsr' "
               "(did you mean ActOnBehalfOfAnotherUser?)" in p for p in found), found
    assert after_edit(real, "integration-user.yaml", "ActOnBehalfOfAnotherUsr: global", "ExportToExcel: global") == []


# --- cross-checks ----------------------------------------------------------------------------------


def test_the_three_managed_roles_need_role_files(real: Project) -> None:
    found = after_edit(real, "product-availability-user.yaml", "name: Product Availability User",
                       "name: Product Availabilty")
    assert any(p.startswith("roles/: no role file declares the role 'Product Availability User' "
                            "(did you mean 'Product Availabilty'?)") for p in found), found


def test_salespeople_roles_must_exist(project: Project) -> None:
    project.stack("real", REAL_STACK.replace("roles: [Salesperson]", "roles: [Salesperson, Sales Manger]"))
    found = problems(project)
    assert any(p.startswith("Pulumi.real.yaml:9: bc-sales:salespeople[0].roles[1]: unknown security role "
                            "'Sales Manger' (did you mean 'Sales Manager'?); allowed: a predefined") for p in found), found
    project.stack("real", REAL_STACK.replace("roles: [Salesperson]", "roles: [Salesperson, integration user]"))
    assert problems(project) == []  # a role of roles/*.yaml, compared like Dataverse compares names


def test_the_package_must_be_the_integration_solution(project: Project, tmp_path: Path) -> None:
    standin = tmp_path / "standin"
    shutil.copytree(REPO / "solution" / "standin", standin)
    project.stack("real", importing(standin))
    found = problems(project)
    assert any(f"bc-sales:solutionPath: the package is {facts.STANDIN_SOLUTION_UNIQUE_NAME} 1.0.0.0, but this stack "
               f"expects Business Central's integration solution {facts.SALES_INTEGRATION_SOLUTION}" in p
               for p in found), found


def test_role_ids_must_match_the_package(project: Project, tmp_path: Path) -> None:
    project.stack("real", importing(vendor_like_zip(tmp_path / "MicrosoftDynamicsNavIntegration.zip")))
    found = after_edit(project, "integration-user.yaml", facts.INTEGRATION_USER_ROLE_ID,
                       "11111111-2222-3333-4444-555555555555")
    assert any(p.startswith("roles/integration-user.yaml: id: role 'Integration User' has id "
                            "11111111-2222-3333-4444-555555555555, but the package MicrosoftDynamicsNavIntegration "
                            f"ships it with id {facts.INTEGRATION_USER_ROLE_ID}") for p in found), found


def test_solution_source_rules(project: Project) -> None:
    project.stack("real", REAL_STACK + "  bc-sales:solutionPath: solution/standin\n")
    assert any("bc-sales:solutionPath: 'solution/standin': not used with solutionSource business-central" in p
               for p in problems(project))
    project.stack("real", REAL_STACK.replace("business-central", "package"))
    assert any("bc-sales:solutionPath: required when solutionSource is package" in p for p in problems(project))
    project.stack("real", REAL_STACK + "  bc-sales:solutionMinimumVersion: nine\n")
    assert any("bc-sales:solutionMinimumVersion: 'nine': expected a solution version" in p for p in problems(project))
    project.stack("real", REAL_STACK + "  bc-sales:solutionMinimumVersion: 9.1\n")
    assert problems(project) == []


def test_salesperson_codes_are_unique(project: Project) -> None:
    project.stack("real", REAL_STACK.replace("      salespersonCode: ab\n", "      salespersonCode: ab\n"
                                             "    - userPrincipalName: bo.ek@fabrikam.onmicrosoft.com\n"
                                             "      salespersonCode: AB\n"))
    found = problems(project)
    assert any("salespersonCode AB is given to both anna.berg@fabrikam.onmicrosoft.com and "
               "bo.ek@fabrikam.onmicrosoft.com" in p for p in found), found


def test_all_problems_at_once(project: Project) -> None:
    project.stack("real", REAL_STACK.replace("3f2a9c4e-1b7d-4e8a-9c21-7d5e8f0a1b2c", ZERO)
                  .replace("roles: [Salesperson]", "roles: [Salesman]"))
    project.edit_role("integration-user.yaml", "  contact:   ", "  contct:    ")
    project.edit_role("integration-user.yaml", "depth: basic", "depth: user")
    project.edit_role("integration-administrator.yaml", "appmodule: ", "apmodule:  ")
    found = problems(project)
    expected = ["Pulumi.real.yaml:2: bc-sales:tenantId:", "Pulumi.real.yaml:9: bc-sales:salespeople[0].roles[0]:",
                "roles/integration-user.yaml:18: tables.userentityuisettings.depth: unknown depth 'user'",
                "roles/integration-administrator.yaml:", "tables.apmodule: unknown table 'apmodule' (did you mean appmodule?)"]
    for fragment in expected:
        assert any(fragment in p for p in found), (fragment, found)
    # a role file that does not load still lets the others be checked against the catalog; the
    # broken one reports every problem it has
    project.edit_role("integration-user.yaml", "depth: global}                                   # Quote",
                      "depth: globl}                                   # Quote")
    found = problems(project)
    assert any("unknown depth 'user'" in p for p in found) and any("unknown depth 'globl'" in p for p in found)


ZERO = "00000000-0000-0000-0000-000000000000"


def test_catalog_source_date_and_suggestions() -> None:
    catalog = load_catalog()
    assert catalog.gathered == "2026-11-30"
    assert any("learn.microsoft.com" in url for url in catalog.sources["tables"])
    assert catalog.table("account").ownership == "user"
    assert catalog.table("product").ownership == "organization"
    assert catalog.table("systemuser").ownership == "business"
    assert catalog.tableless("prvActOnBehalfOfAnotherUser") == (True, "Global")
    assert suggest("salesordr", catalog.tables) == ["salesorder"]
    assert suggest("zzzz", catalog.tables) == []
    assert "Salesperson" in catalog.security_roles
    # every table the shipped role files name is in the catalog or declared from its solution
    from infra.model.roles import load_roles

    for spec in load_roles(REPO / "roles"):
        for table in spec.tables:
            assert catalog.table(table) is not None or table in spec.table_solutions, (spec.name, table)


# --- secrets in the stack file -------------------------------------------------------------------


EXISTING_IDENTITY_STACK = """
config:
  bc-sales:tenantId: 3f2a9c4e-1b7d-4e8a-9c21-7d5e8f0a1b2c
  bc-sales:environmentUrl: https://fabrikam-sales.crm4.dynamics.com
  bc-sales:identityMode: existing
  bc-sales:applicationUser: false
  bc-sales:integrationUser:
    userPrincipalName: bc-integration@fabrikam.onmicrosoft.com
    usageLocation: DE
    objectId: 9a1b2c3d-1b7d-4e8a-9c21-7d5e8f0a1b2c
  bc-sales:seatCheck: "off"
  bc-sales:solutionSource: business-central
"""


def test_a_plain_text_client_secret_is_a_problem_that_does_not_show_it(project: Project) -> None:
    project.stack("real", EXISTING_IDENTITY_STACK + "  bc-sales:applicationClientSecret: s3cr3t-Value~1\n")
    found = problems(project)
    assert [p for p in found if "applicationClientSecret" in p] == [
        "Pulumi.real.yaml:12: bc-sales:applicationClientSecret: stored in plain text; store it encrypted with "
        "`pulumi config set --secret bc-sales:applicationClientSecret <value>` (and rotate it: it has been in "
        "the file)"], found
    assert not any("s3cr3t" in p for p in found)


def test_an_encrypted_client_secret_is_fine(project: Project) -> None:
    project.stack("real", EXISTING_IDENTITY_STACK
                  + "  bc-sales:applicationClientSecret:\n    secure: v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBB\n")
    assert problems(project) == []
