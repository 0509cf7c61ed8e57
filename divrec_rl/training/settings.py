"""One configuration style: typed pydantic models whose fields are also the command-line flags.

:class:`SettingsModel` is the base of every settings model outside the scenario schema (PPO
training, the supervised baseline, the user-model fine-tuning).  Each field carries its
``description`` (the ``--help`` text and the documentation) and, in ``json_schema_extra``, the
command-line metadata:

* ``flag``: the option name when it is not ``--`` + the field name in kebab case;
* ``metavar``: what ``--help`` shows for the value;
* ``resumable``: the field may change when a run is resumed.

Values are converted and checked by pydantic (strings from the command line included); a
:class:`~pydantic.ValidationError` becomes the model's ``error_class`` (a
:class:`~divrec_rl.errors.DivrecError`) with one line per problem, naming the field and its flag
and saying what is allowed.  :func:`add_model_arguments` writes one argparse option per field.

Only pydantic is imported here, so a command line can read these models without torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from divrec_rl.errors import DivrecError

__all__ = [
    "SettingsModel",
    "add_model_arguments",
    "field_extra",
    "flag_of",
    "given_fields",
    "label_of",
]


class SettingsModel(BaseModel):
    """A typed settings model: unknown fields, non-finite numbers and out-of-range values are
    errors of class ``error_class``, one line each (``field 'x' (--x): must be ≥ 1, got 0``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)
    error_class: ClassVar[type[DivrecError]] = DivrecError
    #: How error lines name the fields: ``section`` is a dotted prefix (``baseline.``);
    #: ``has_flags`` says whether the fields are command-line flags worth naming.
    section: ClassVar[str] = ""
    has_flags: ClassVar[bool] = True
    #: Prefix of generated flags (``baseline-`` → ``--baseline-hidden``) where a command
    #: holds several models; a field's own ``flag`` wins.
    flag_prefix: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self.error_class(validation_lines(type(self), exc)) from None

    def with_values(self, **changes: Any) -> SettingsModel:
        """A validated copy with ``changes`` applied (``model_copy`` does not validate)."""
        return type(self)(**{**self.model_dump(), **changes})


def field_extra(info: FieldInfo) -> dict[str, Any]:
    """The command-line metadata of a field (``json_schema_extra``), ``{}`` when none."""
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, Mapping) else {}


def flag_of(model: type[BaseModel], name: str) -> str:
    """The command-line option of field ``name``: ``--{flag_prefix}kebab-case`` unless the
    field's ``flag`` says otherwise."""
    prefix = getattr(model, "flag_prefix", "")
    explicit = field_extra(model.model_fields[name]).get("flag")
    return explicit or "--" + (prefix + name).replace("_", "-")


def label_of(model: type[BaseModel], name: str) -> str:
    """How errors name a field: ``field 'n_envs' (--n-envs)``."""
    dotted = f"{getattr(model, 'section', '')}{name}"
    if name not in model.model_fields or not getattr(model, "has_flags", True):
        return f"field '{dotted}'"
    return f"field '{dotted}' ({flag_of(model, name)})"


def _bounds(info: FieldInfo) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in info.metadata:
        for kind in ("ge", "gt", "le", "lt"):
            value = getattr(item, kind, None)
            if isinstance(item, at.Ge | at.Gt | at.Le | at.Lt | at.Interval) and value is not None:
                found[kind] = value
    return found


def range_text(info: FieldInfo) -> str:
    """The allowed range of a numeric field in words: ``≥ 1``, ``in (0, 1]``."""
    b = _bounds(info)
    low = ("[", b["ge"]) if "ge" in b else ("(", b["gt"]) if "gt" in b else None
    high = ("]", b["le"]) if "le" in b else (")", b["lt"]) if "lt" in b else None
    if low and high:
        return f"in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{'≥' if low[0] == '[' else '>'} {low[1]:g}"
    if high:
        return f"{'≤' if high[0] == ']' else '<'} {high[1]:g}"
    return "in range"


_TYPE_WORDS = {
    "int": "must be an integer",
    "float": "must be a finite number",
    "finite_number": "must be a finite number",
    "bool": "must be true or false",
    "string": "must be a string",
    "list": "must be a list",
    "tuple": "must be a list",
}
_BOUND_WORDS = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤"}


def _allowed(model: type[BaseModel], loc: tuple[Any, ...], error: Mapping[str, Any]) -> str:
    kind = str(error["type"])
    info = model.model_fields.get(str(loc[0])) if loc else None
    if kind == "literal_error" and info is not None:
        choices = [str(c) for c in get_args(info.annotation)]
        return "must be one of " + ", ".join(choices)
    if kind in _BOUND_WORDS or kind == "less_than":
        if info is not None and len(loc) == 1:
            return f"must be {range_text(info)}"
        ctx = error.get("ctx", {})
        bound = next(iter(ctx.values()), "?")
        return f"values must be {_BOUND_WORDS.get(kind, '<')} {bound}"
    for prefix, words in _TYPE_WORDS.items():
        if kind.startswith(prefix):
            return words
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def validation_lines(model: type[BaseModel], exc: ValidationError) -> list[str]:
    """One line per pydantic error: the field, its flag, what is allowed and what was given."""
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields)
            lines.append(f"unknown field '{loc[0]}' (allowed: {allowed})")
        elif not loc:
            lines.append(str(error["msg"]).removeprefix("Value error, "))
        else:
            shown = error.get("input")
            lines.append(f"{label_of(model, str(loc[0]))}: {_allowed(model, loc, error)}, "
                         f"got {shown!r}")  # fmt: skip
    return lines


def _metavar(info: FieldInfo, extra: dict[str, Any], name: str) -> str:
    if "metavar" in extra:
        return str(extra["metavar"])
    annotation = info.annotation
    if get_origin(annotation) is Literal:
        return "{" + ",".join(str(c) for c in get_args(annotation)) + "}"
    words = str(annotation)
    if "int" in words:
        return "N"
    if "float" in words:
        return "X"
    return name.upper()


def help_text(info: FieldInfo) -> str:
    """The field's description and its default (``unset`` for ``None``)."""
    default = info.get_default(call_default_factory=True)
    shown = "unset" if default is None else default
    if isinstance(default, tuple | list):
        shown = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
    return f"{info.description} (default: {shown})"


def add_model_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    model: type[BaseModel],
    skip: Iterable[str] = (),
) -> None:
    """One option per field of ``model`` (except ``skip``); help = the field's description.

    Every option defaults to "not given" (absent from the namespace), so layering can tell a
    flag from a default, and keeps its value as the typed string: pydantic converts it.
    Booleans get ``--x/--no-x``; list and tuple fields take comma-separated values.
    """
    skipped = set(skip)
    for name, info in model.model_fields.items():
        if name in skipped:
            continue
        extra = field_extra(info)
        dest = getattr(model, "flag_prefix", "").replace("-", "_") + name
        kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS}
        if info.annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif get_origin(info.annotation) in (list, tuple):
            kwargs.update(type=_comma_list, metavar=extra.get("metavar", "X,Y,..."))
        else:
            kwargs["metavar"] = _metavar(info, extra, name)
        parser.add_argument(flag_of(model, name), help=help_text(info), **kwargs)


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def given_fields(model: type[BaseModel], args: argparse.Namespace | Mapping[str, Any]) -> dict:
    """The values of ``args`` that are fields of ``model`` (the flags that were given)."""
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    prefix = getattr(model, "flag_prefix", "").replace("-", "_")
    return {
        k[len(prefix) :]: v
        for k, v in values.items()
        if k.startswith(prefix) and k[len(prefix) :] in model.model_fields
    }
