"""Offline checks of a stack before anything is deployed (``bc-sales validate``).

Pure functions over the project's files: the stack file through the program's own config model
(:mod:`infra.program.config`), every role file (:mod:`infra.model.roles`) against the table catalog
shipped in ``catalog.yaml``, the solution package (:mod:`infra.model.solution_package`) and the
cross-checks between them.  The command line (:mod:`infra.cli`) only prints what these return.
"""

from infra.validate.catalog import Catalog, load_catalog
from infra.validate.problems import Problem
from infra.validate.stack import UnknownStackError, validate_stack, validate_stacks
from infra.validate.stack_file import stack_names

__all__ = ["Catalog", "Problem", "UnknownStackError", "load_catalog", "stack_names", "validate_stack",
           "validate_stacks"]
