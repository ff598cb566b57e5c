"""The ``--steps`` syntax: inline text or a YAML/JSON file (``@steps.yaml``).

Inline, steps are separated by ``;`` (or new lines), each a step name, then
optionally ``:`` and comma-separated ``key=value`` parameters::

    offset:100; background:min; blur:sigma=1.0; tophat:radius=10;
    normalize:mode=global,subtract=0,divide=250

A bare first value is the step's positional shorthand (its record's
``positional``, collected in :data:`POSITIONAL`): ``offset`` -> ``baseline``,
``background`` -> ``mode``, ``saturate`` -> ``knee``, ``blur`` -> ``sigma``,
``tophat`` -> ``radius``, ``normalize`` -> ``mode``, ``sum`` -> ``frames``; ``crop``
has none. Values are read as int, float, bool (``true``/``false``/``yes``/``no``),
``none``/``null`` or text (:func:`parse_value`); ranges such as ``y=0:256`` stay text
and the ``crop`` step reads them. The step's parameters are then built by its
params class (:meth:`~smlmscale.settings.Settings.from_mapping`), which converts
numbers to the field's type (``blur:sigma=2`` is 2.0) and checks them.

A file (``@path``; ``.json`` is read as JSON, anything else as YAML) holds a
list of steps, or a mapping with that list under ``steps``; each entry is one
of::

    - blur: {sigma: 1.5}          # name: parameters
    - offset: 100                 # name: positional value
    - background                  # name alone: defaults
    - {step: crop, y: [0, 256]}   # the form written to provenance

In YAML, write ranges as lists (``[10, 20]``) or quoted text (``"10:20"``);
unquoted ``10:20`` is also read as a range here (not as YAML 1.1's base-60 number).

Unknown steps or parameters raise :class:`~smlmscale.errors.InputError` listing
the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

from smlmscale.errors import InputError
from smlmscale.preprocess.base import Step
from smlmscale.preprocess.registry import steps as registered_steps

#: The field a bare first value sets, per step (from the step records).
POSITIONAL = {name: step.positional for name, step in registered_steps().items()
              if step.positional}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}


def parse_steps(spec: str, *, available: dict[str, Step] | None = None) -> list[tuple[Step, Any]]:
    """The steps of ``--steps``: inline text, or ``@file`` (YAML or JSON).

    Parameters
    ----------
    spec : str
        E.g. ``"offset:100; blur:sigma=1.0"`` or ``"@steps.yaml"``.
    available : dict, optional
        Steps by name (default :func:`smlmscale.preprocess.registry.steps`).

    Returns
    -------
    list of (Step, params)
        In order; ``params`` is an instance of ``Step.params``.

    Raises
    ------
    InputError
        Empty, unreadable or malformed; an unknown step or parameter (the valid
        ones are listed); a bad value.

    Examples
    --------
    >>> [(step.name, params) for step, params in parse_steps("offset:100; blur:sigma=2")]
    [('offset', OffsetParams(baseline=100.0, e_per_adu=None, em_gain=1.0, qe=1.0)), \
('blur', BlurParams(sigma=2.0, truncate=4.0))]
    """
    spec = spec.strip()
    entries = load_steps_file(spec[1:].strip()) if spec.startswith("@") else parse_inline(spec)
    if not entries:
        raise InputError("no preprocessing steps given",
                         hint="e.g. --steps \"offset:100; blur:sigma=1.0\"")
    return [make_step(name, values, available=available) for name, values in entries]


def parse_inline(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``"blur:sigma=1; sum:10"`` -> ``[("blur", {"sigma": 1}), ("sum", {None: 10})]``.

    The key ``None`` holds a positional value.
    """
    entries = []
    for item in re.split(r"[;\n]", text):
        item = item.strip()
        if not item:
            continue
        name, _, args = item.partition(":")
        values: dict[str | None, Any] = {}
        for index, arg in enumerate(a.strip() for a in args.split(",")):
            if not arg:
                continue
            key, equals, raw = arg.partition("=")
            if not equals:
                if index > 0 or values:
                    raise InputError(f"{name.strip()}: {arg!r} needs a name "
                                     f"(key=value); only the first value may be bare")
                key, raw = None, arg
            else:
                key = key.strip().lower()
            if key in values:
                raise InputError(f"{name.strip()}: {key} is given twice")
            values[key] = parse_value(raw)
        entries.append((name.strip().lower(), values))
    return entries


def parse_value(text: str) -> Any:
    """Inline text as int, float, bool, None or text (ranges like ``0:256`` stay text).

    Examples
    --------
    >>> [parse_value(v) for v in ("10", "1.5", "1e3", "true", "none", "disk", "0:256")]
    [10, 1.5, 1000.0, True, None, 'disk', '0:256']
    """
    text = text.strip()
    lower = text.lower()
    if lower in _BOOLS:
        return _BOOLS[lower]
    if lower in ("none", "null"):
        return None
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def load_steps_file(path: str) -> list[tuple[str, dict[str, Any]]]:
    """Entries of a YAML or JSON steps file, in the forms of the module notes."""
    if not path:
        raise InputError("--steps @: no file name after @", hint="e.g. --steps @steps.yaml")
    if not os.path.isfile(path):
        raise InputError("no such steps file", path=path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle) if path.lower().endswith(".json") else _load_yaml(handle)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a readable steps file ({_first_line(exc)})", path=path) from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and its kin
        raise InputError(f"not valid YAML ({_first_line(exc)})", path=path) from None
    if isinstance(data, dict) and set(data) == {"steps"}:
        data = data["steps"]
    if not isinstance(data, list):
        raise InputError("a steps file holds a list of steps (or steps: [...])", path=path)
    return [_file_entry(entry, path) for entry in data]


def _file_entry(entry: Any, path: str) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry.strip().lower(), {}
    if isinstance(entry, dict) and "step" in entry:
        values = {str(k).lower(): v for k, v in entry.items() if k != "step"}
        return str(entry["step"]).strip().lower(), values
    if isinstance(entry, dict) and len(entry) == 1:
        (name, values), = entry.items()
        if values is None:
            values = {}
        elif not isinstance(values, dict):
            values = {None: values}
        return str(name).strip().lower(), {k if k is None else str(k).lower(): v
                                           for k, v in values.items()}
    raise InputError(f"cannot read the step {entry!r}", path=path,
                     hint="write each step as 'name: {key: value}' or "
                          "'{step: name, key: value}'")


def make_step(name: str, values: dict, *, available: dict[str, Step] | None = None
              ) -> tuple[Step, Any]:
    """The step called ``name`` and its parameters from ``values`` (key None: positional).

    Raises
    ------
    InputError
        Unknown step or parameter, a positional value for a step without one, a
        missing required parameter, or a value of the wrong type or range.
    """
    available = registered_steps() if available is None else available
    step = available.get(name) if _NAME.match(name or "") else None
    if step is None:
        raise InputError(f"unknown step {name!r}",
                         hint=f"valid steps: {', '.join(available)}")
    fields = {f.name: f for f in dataclasses.fields(step.params)}
    valid = ", ".join(fields)
    values = dict(values)
    if None in values:
        if step.positional is None:
            raise InputError(f"{name} takes no bare value", hint=f"write key=value with one "
                                                                 f"of: {valid}")
        if step.positional in values:
            raise InputError(f"{name}: {step.positional} is given twice (bare and by name)")
        values[step.positional] = values.pop(None)
    unknown = [key for key in values if key not in fields]
    if unknown:
        raise InputError(f"{name}: unknown parameter {unknown[0]!r}",
                         hint=f"valid parameters of {name}: {valid}")
    missing = [f.name for f in fields.values() if f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise InputError(f"{name}: {missing[0]} is required", hint=f"e.g. {name}:{missing[0]}=...")
    return step, step.params.from_mapping(values)


def steps_to_dicts(steps: list[tuple[Step, Any]]) -> list[dict[str, Any]]:
    """``[{"step": name, **params}]``: JSON-safe, and a valid steps file (provenance)."""
    return [{"step": step.name, **params.to_mapping()} for step, params in steps]


def format_steps(steps: list[tuple[Step, Any]]) -> str:
    """Inline text of the steps: the positional parameter, and others unless at their default.

    Examples
    --------
    >>> format_steps(parse_steps("offset:100; crop:y=0:8; blur"))
    'offset:baseline=100.0; crop:y=0:8; blur:sigma=1.0'
    """
    parts = []
    for step, params in steps:
        args = []
        for field in dataclasses.fields(params):
            value = getattr(params, field.name)
            if (field.default is not dataclasses.MISSING and value == field.default
                    and field.name != step.positional):
                continue
            if isinstance(value, tuple):
                value = ":".join("" if end is None else str(end) for end in value)
            args.append(f"{field.name}={str(value).lower() if isinstance(value, bool) else value}")
        parts.append(step.name + (":" + ",".join(args) if args else ""))
    return "; ".join(parts)


def _load_yaml(handle) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe YAML without base-60 integers, so ``y: 10:20`` stays a range."""

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(0|[1-9][0-9_]*)$"),
                                 list("-+0123456789"))
    return yaml.load(handle, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
