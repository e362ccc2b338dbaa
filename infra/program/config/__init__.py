"""Stack configuration: one typed model, loaded and checked before any resource is registered.

Why a model of its own: a Dynamics administrator reviews ``Pulumi.<stack>.yaml`` in a pull request,
so every key has one documented meaning, one default (the same as in ``Pulumi.yaml``), and a
mistake is reported *all at once*, one line per problem (key, value, what is allowed), before the
program touches Entra or Dataverse.  :class:`ConfigError` carries those lines; the program raises
it as :class:`pulumi.RunError`, which the Pulumi language host prints without a traceback.

The package's modules, from the bottom up: ``project`` (names and paths), ``values`` (checks of
single values), ``settings`` (the model), ``keys`` (the key table Pulumi.yaml and the README
follow), ``messages`` (how problems read), ``checks`` (rules across keys, the files the config
names) and ``loading`` (from a lookup or the Pulumi runtime).
"""

from infra.program.config.keys import ConfigKey, config_keys
from infra.program.config.loading import (
    CheckedStack,
    LoadedStack,
    check_stack,
    load_from_pulumi,
    load_settings,
    load_stack,
    load_stack_from_pulumi,
)
from infra.program.config.messages import ConfigError
from infra.program.config.project import ENDPOINT_ENV_VARS, PROJECT, PROJECT_ROOT, SECRET_KEYS
from infra.program.config.settings import IntegrationUserSettings, Salesperson, StackSettings

__all__ = [
    "ENDPOINT_ENV_VARS",
    "PROJECT",
    "PROJECT_ROOT",
    "SECRET_KEYS",
    "CheckedStack",
    "ConfigError",
    "ConfigKey",
    "IntegrationUserSettings",
    "LoadedStack",
    "Salesperson",
    "StackSettings",
    "check_stack",
    "config_keys",
    "load_from_pulumi",
    "load_settings",
    "load_stack",
    "load_stack_from_pulumi",
]
