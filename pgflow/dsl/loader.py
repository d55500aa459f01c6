"""Find flows and jobs by import path, for ``pgflow worker`` and ``pgflow compile``.

    load_targets("myapp.flows:order", "myapp.jobs")

``module:attr`` picks one flow or job (``attr`` may be dotted); a bare ``module`` picks every
Flow and Job among the module's attributes, in the order the module defines them.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

from pgflow.dsl.flow import Flow
from pgflow.errors import ConfigurationError, FlowDefinitionError


def load_targets(*specs: str, add_cwd_to_path: bool = True) -> list[Flow]:
    """Import each spec and return the flows and jobs found, without duplicates, in order.

    With ``add_cwd_to_path`` (the default), the current directory is put on ``sys.path`` first,
    so ``pgflow worker myapp.flows`` finds the project it is started in.
    Errors raised by the imported module's own code propagate unchanged.
    """
    if not specs:
        raise ConfigurationError("no flows given; name them as module or module:attribute (e.g. myapp.flows:order)")
    if add_cwd_to_path and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    found: list[Flow] = []
    origin: dict[str, str] = {}
    for spec in specs:
        for flow in _load(spec):
            if any(flow is seen for seen in found):
                continue
            if flow.slug in origin:
                raise FlowDefinitionError(
                    f"two different definitions use the slug {flow.slug!r} ({origin[flow.slug]} and {spec}); "
                    f"a slug names one flow or job: rename one of them"
                )
            flow.require_steps()
            origin[flow.slug] = spec
            found.append(flow)
    return found


def _load(spec: str) -> list[Flow]:
    if not isinstance(spec, str) or not spec.strip() or spec.count(":") > 1:
        raise ConfigurationError(f"invalid target {spec!r}; write module or module:attribute (e.g. myapp.flows:order)")
    module_name, _, attr = spec.strip().partition(":")
    if "/" in module_name or "\\" in module_name or module_name.endswith(".py") or module_name.startswith("."):
        dotted = module_name.removesuffix(".py").replace("\\", "/").strip("./").replace("/", ".")
        raise ConfigurationError(f"target {spec!r} must be a module path, not a file path: e.g. {dotted!r}")
    module = _import(module_name, spec)
    if not attr:
        flows = [value for value in vars(module).values() if isinstance(value, Flow)]
        if not flows:
            raise ConfigurationError(
                f"module {module_name!r} ({getattr(module, '__file__', '?')}) defines no pgflow.Flow or pgflow.Job; "
                f"check the module path, or name one as module:attribute"
            )
        return flows
    value: object = module
    for i, part in enumerate(attr.split(".")):
        try:
            value = getattr(value, part)
        except AttributeError:
            where = module_name + (":" + ".".join(attr.split(".")[:i]) if i else "")
            candidates = [name for name, obj in vars(module).items() if isinstance(obj, Flow)]
            hint = f"; flows and jobs in {module_name}: {', '.join(candidates)}" if candidates else ""
            raise ConfigurationError(f"{where} has no attribute {part!r} (target {spec!r}){hint}") from None
    if not isinstance(value, Flow):
        raise ConfigurationError(
            f"{spec} is a {type(value).__name__}, not a pgflow.Flow or pgflow.Job; point at the object "
            f"created with pgflow.Flow(...) or pgflow.Job(...)"
        )
    return [value]


def _import(module_name: str, spec: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only translate "this module does not exist"; a missing import inside it propagates.
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise ConfigurationError(
                f"cannot import {module_name!r} for target {spec!r}: no module named {missing!r}. "
                f"Check the spelling, and run from the directory that contains it (or add it to PYTHONPATH); "
                f"the current directory is {os.getcwd()}"
            ) from None
        raise
