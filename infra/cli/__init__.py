"""``bc-sales``: the project's command line for people (a thin layer over :mod:`infra.validate`,
:mod:`infra.review` and the local tools).  See :mod:`infra.cli.main`."""

from infra.cli.main import main

__all__ = ["main"]
