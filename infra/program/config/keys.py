"""The key table: every ``bc-sales:`` key with its field, Pulumi.yaml type, default and description.

Derived from :class:`~infra.program.config.settings.StackSettings`, so ``Pulumi.yaml``, the
README's config table and the model cannot drift apart (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import TypeAdapter

from infra.program.config.settings import StackSettings

__all__ = ["ConfigKey", "adapter", "config_keys", "field_of"]


@dataclass(frozen=True)
class ConfigKey:
    """One ``bc-sales:`` key as Pulumi.yaml declares it.

    ``name`` is the key (``tenantId``), ``field`` the model's attribute (``tenant_id``),
    ``pulumi_type`` the Pulumi.yaml ``type`` (``string``/``integer``/``boolean``/``array``, or
    ``None`` for objects, which Pulumi.yaml cannot type), ``default`` ``None`` when required.
    """

    name: str
    field: str
    pulumi_type: str | None  # string | integer | boolean | array (items string) | None (object values)
    required: bool
    default: Any
    description: str

    @property
    def structured(self) -> bool:
        """Whether the CLI passes the value as JSON text (objects and lists)."""
        return self.pulumi_type in (None, "array")


def _pulumi_type(annotation: Any) -> str | None:
    """The Pulumi.yaml ``type`` of a field; ``None`` for objects (Pulumi.yaml cannot type them)."""
    options = [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) in (
        Union, UnionType) else [annotation]
    base = options[0]
    if get_origin(base) is Annotated:
        base = get_args(base)[0]
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base is str or get_origin(base) is Literal:
        return "string"
    if get_origin(base) is list and get_args(base) in ((str,),):
        return "array"
    return None


def config_keys() -> list[ConfigKey]:
    """Every key of the project, in declaration order (also drives the README table)."""
    keys: list[ConfigKey] = []
    for name, info in StackSettings.model_fields.items():
        required = info.is_required()
        if required:
            default: Any = None
        elif info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        else:
            default = info.default
        keys.append(ConfigKey(
            name=info.alias or name,
            field=name,
            pulumi_type=_pulumi_type(info.annotation),
            required=required,
            default=default,
            description=info.description or "",
        ))
    return keys


def field_of(key: str) -> str:
    """The model attribute of a config key: ``"tenantId"`` -> ``"tenant_id"``; ``KeyError`` if unknown."""
    for k in config_keys():
        if k.name == key:
            return k.field
    raise KeyError(key)


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def adapter(field: str) -> TypeAdapter[Any]:
    """A validator for one field on its own (so every bad key is reported, not only the first)."""
    if field not in _ADAPTERS:
        info = StackSettings.model_fields[field]
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]  # type: ignore[valid-type]
        _ADAPTERS[field] = TypeAdapter(annotation)
    return _ADAPTERS[field]
