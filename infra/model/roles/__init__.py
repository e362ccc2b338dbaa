"""Role files (``roles/*.yaml``) loaded into :class:`RoleSpec` values.

``spec`` holds the values (a role, its privilege entries, the derived role id), ``parser`` the
YAML node walker that names file, line and key for every problem, ``loading`` the entry points
(one file, its text, a directory) and ``errors`` what they raise.  See ``docs/role-files.md``.
"""

from infra.model.roles.errors import RoleFileError, RoleFileErrors
from infra.model.roles.loading import load_role_file, load_role_text, load_roles, parse_roles, role_files
from infra.model.roles.spec import VERBS, PrivilegeEntry, RoleSpec, derived_role_id

__all__ = [
    "PrivilegeEntry",
    "RoleFileError",
    "RoleFileErrors",
    "RoleSpec",
    "VERBS",
    "derived_role_id",
    "load_role_file",
    "load_role_text",
    "load_roles",
    "parse_roles",
    "role_files",
]
