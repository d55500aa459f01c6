"""``pgflow.Flow``: a DAG of steps defined with decorators.

The decorators register the function and hand it back unchanged, so a handler stays a plain
function (or coroutine function) that users can call in their own unit tests. To depend on a step,
pass that function, its ``StepDefinition`` or its slug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, overload

from pgflow.dsl import validation as v
from pgflow.dsl.graph import check_order, step_kwargs
from pgflow.dsl.options import FlowLimits, FlowOptions
from pgflow.dsl.shape import build_shape, shape_json
from pgflow.dsl.step import StepDefinition, handler_name, inspect_handler
from pgflow.dsl.wait_spec import WaitSpec
from pgflow.dsl.waits import WaitingSteps
from pgflow.errors import FlowDefinitionError

if TYPE_CHECKING:
    from pgflow.dsl.cron import Cron

F = TypeVar("F", bound=Callable[..., Any])
StepRef: TypeAlias = "Callable[..., Any] | StepDefinition | str"  # a handler of this flow, its definition, its slug


class Flow(WaitingSteps):
    """A workflow: steps with dependencies, run by workers from a pgmq queue named after it.

        order = pgflow.Flow("process_order", max_attempts=3)

        @order.step
        def validate(input, ctx): ...

        @order.step(depends_on=[validate])
        def charge(deps, ctx): ...
    """

    flow_type = "flow"

    def __init__(
        self,
        slug: str,
        *,
        max_attempts: int | None = None,
        base_delay: int | None = None,
        timeout: int | None = None,
        cron: str | Cron | None = None,
        step_queues: bool = False,
        max_running: int | None = None,
        rate_limit: tuple[int, float] | None = None,
        concurrency_key: str | Callable[[Any], Any] | None = None,
        max_running_per_key: int | None = None,
        rate_limit_per_key: tuple[int, float] | None = None,
    ) -> None:
        kind = "job" if self.flow_type == "job" else "flow"
        self.slug = v.check_slug(slug, f"a {kind}", max_length=v.MAX_FLOW_SLUG_LENGTH)
        where = f"{kind} {slug!r}"
        self.options = FlowOptions(
            max_attempts=v.check_option("max_attempts", max_attempts, where),
            base_delay=v.check_option("base_delay", base_delay, where),
            timeout=v.check_option("timeout", timeout, where),
        )
        key_path, key_function = v.check_concurrency_key(concurrency_key, where)
        per_key = v.check_option("max_running_per_key", max_running_per_key, where)
        key_rate = v.check_rate(rate_limit_per_key, where, "rate_limit_per_key")
        for name, given in (("max_running_per_key", per_key), ("rate_limit_per_key", key_rate)):
            if given is not None and key_path is None and key_function is None:
                raise FlowDefinitionError(
                    f"{where}: {name} needs a concurrency_key, the path into the run input (e.g. "
                    f"concurrency_key=\"customer_id\") or a function of the input that gives each run's key"
                )
        self.limits = FlowLimits(max_running=v.check_option("max_running", max_running, where),
                                 rate_limit=v.check_rate(rate_limit, where),
                                 concurrency_key=key_path, key_function=key_function,
                                 max_running_per_key=per_key, rate_limit_per_key=key_rate)
        self.cron = _coerce_cron(cron)
        # each step's tasks in a private queue (pgflow's withStepQueues(), queue mode 'step')
        self.step_queues = bool(step_queues)
        self._steps: dict[str, StepDefinition] = {}

    # ----------------------------------------------------------------------------- reading

    @property
    def steps(self) -> tuple[StepDefinition, ...]:
        """The steps in definition order (= the order the database stores and starts them)."""
        return tuple(self._steps.values())

    def require_steps(self) -> None:
        """Raise :class:`FlowDefinitionError` when the flow has no step yet. Steps are added after
        the ``Flow(...)`` line, so this runs where a definition is used: loading it (worker, CLI),
        compiling it, serving or running it inline (``shape()`` itself stays as TypeScript's DSL
        gives it, ``{"steps": []}``). A flow without steps would be
        stored, scheduled and "complete" at once with output ``null``, running nothing."""
        if not self.steps:  # a Job without handler raises its own error here
            raise FlowDefinitionError(
                f"flow {self.slug!r} has no steps, so its runs would do nothing; decorate a function with "
                f"the flow's .step (e.g. @report.step), or use pgflow.Job({self.slug!r}) with .perform for "
                f"a single function"
            )

    def get_step(self, slug: str) -> StepDefinition:
        try:
            return self._steps[slug]
        except (KeyError, TypeError):
            raise FlowDefinitionError(
                f"{self.flow_type} {self.slug!r} has no step {slug!r}; its steps are: {self._known()}"
            ) from None

    def __contains__(self, slug: object) -> bool:
        return slug in self._steps

    def dependents(self, slug: str) -> list[str]:
        """Slugs of the steps that depend directly on ``slug``, in definition order."""
        self.get_step(slug)
        return [s.slug for s in self._steps.values() if slug in s.depends_on]

    def shape(self) -> dict[str, Any]:
        """pgflow's FlowShape for this flow (what ``ensure_flow_compiled`` receives)."""
        return build_shape(self.steps, self.options)

    @property
    def queue_mode(self) -> str:
        """'step' when each step has a private queue (``step_queues=True``), else 'flow'."""
        return "step" if self.step_queues else "flow"

    def queue_routes(self) -> list[dict[str, str]]:
        """The queue of each step in step order, ``[{"stepSlug", "queueName"}]``, as
        ``ensure_flow_compiled`` derives it: the flow's queue ``lower(slug)``, or with
        ``step_queues=True`` each step's own ``lower(flow__step)`` (``lower(flow__<index>)``
        when that is longer than 47 characters)."""
        return [{"stepSlug": s.slug,
                 "queueName": (self._step_queue_name(s.slug, i) or "") if self.step_queues else self.slug.lower()}
                for i, s in enumerate(self.steps)]

    def _step_queue_name(self, step_slug: str, index: int) -> str | None:
        for name in (f"{self.slug}__{step_slug}", f"{self.slug}__{index}"):
            if len(name) <= v.MAX_QUEUE_NAME_LENGTH:
                return name.lower()
        return None

    def shape_json(self) -> str:
        """The shape as compact JSON text, identical to ``JSON.stringify`` of the TypeScript DSL's shape."""
        return shape_json(self.shape())

    def compile_shape(self) -> dict[str, Any]:
        """The shape to hand to ``ensure_flow_compiled``: :meth:`shape`, plus ``"flowType": "job"``
        for a job (a pgflow-py extension that ``_create_flow_from_shape`` reads; a flow's shape is
        left exactly as TypeScript writes it)."""
        shape = self.shape()
        if self.flow_type != "flow":
            shape["flowType"] = self.flow_type
        return shape

    def declared_limits(self) -> dict[str, Any]:
        """The flow control its code declares, as ``pgflow._declare_flow_limits`` takes it:
        ``{"max_running": n, "rate_limit": {"count": n, "per": s}, "steps": {slug: {...}},
        "concurrency_key": "path", "max_running_per_key": n, "rate_limit_per_key": {...}}``, without what is unset (a key
        function stays in Python: only its limit is declared)."""
        limits: dict[str, Any] = _limits_of(self.limits.max_running, self.limits.rate_limit)
        steps = {s.slug: _limits_of(s.max_running, s.rate_limit) for s in self._steps.values()
                 if s.max_running is not None or s.rate_limit is not None}
        if steps:
            limits["steps"] = steps
        if self.limits.concurrency_key is not None:
            limits["concurrency_key"] = self.limits.concurrency_key
        if self.limits.max_running_per_key is not None:
            limits["max_running_per_key"] = self.limits.max_running_per_key
        if self.limits.rate_limit_per_key is not None:
            count, per = self.limits.rate_limit_per_key
            limits["rate_limit_per_key"] = {"count": count, "per": per}
        return limits

    def to_upsert_steps(self) -> list[dict[str, Any]]:
        """The steps as plain dicts (the format of ``Client.upsert_flow`` and ``Flow.from_steps``)."""
        rows = []
        for step in self.steps:
            row: dict[str, Any] = {"slug": step.slug, "deps": list(step.depends_on), "step_type": step.step_type}
            for key in ("max_attempts", "base_delay", "timeout", "start_delay",
                        "required_input_pattern", "forbidden_input_pattern", "max_running"):
                if getattr(step, key) is not None:
                    row[key] = getattr(step, key)
            row["when_unmet"] = step.when_unmet
            row["when_exhausted"] = step.when_exhausted
            rows.append(row)
        return rows

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.slug!r} steps=[{', '.join(self._steps)}]>"

    # ----------------------------------------------------------------------------- defining

    @overload
    def step(self, handler: F, /) -> F: ...
    @overload
    def step(self, slug: str, /) -> StepDefinition: ...
    @overload
    def step(self, /, **options: Any) -> Callable[[F], F]: ...

    def step(self, target: Any = None, /, **options: Any) -> Any:
        """Define a single step (decorator), or look one up by slug: ``flow.step("validate")``.

        ``@flow.step`` or ``@flow.step(depends_on=[...], slug=..., max_attempts=..., base_delay=...,
        timeout=..., start_delay=..., if_={...}, if_not={...}, when_unmet=..., when_exhausted=...,
        max_running=...)`` (``max_running``: at most that many of the step's tasks running at once).
        Also callable directly: ``flow.step(handler, depends_on=[...])``.
        """
        if isinstance(target, str):
            if options:
                raise FlowDefinitionError(
                    f"flow.step({target!r}, ...) looks a step up by slug; to name a new step write "
                    f"@{self.slug}.step(slug={target!r}, ...)"
                )
            if target not in self._steps:
                raise FlowDefinitionError(
                    f"{self.flow_type} {self.slug!r} has no step {target!r} (steps: {self._known()}); "
                    f"to name a new step write @{self.slug}.step(slug={target!r})"
                )
            return self._steps[target]
        return self._decorate(target, options, step_type="single")

    def array(self, target: Any = None, /, **options: Any) -> Any:
        """Define a single step whose output is a list, for a map step to fan out over.

        Same options as :meth:`step`; the shape is the same as a single step's (as pgflow's ``.array()``).
        """
        if isinstance(target, str):
            raise FlowDefinitionError(f"name an array step with slug=: @{self.slug}.array(slug={target!r})")
        return self._decorate(target, options, step_type="single", returns_array=True)

    def map(self, target: Any = None, /, **options: Any) -> Any:
        """Define a map step: one task per element of an array, handler ``(item, ctx)``.

        ``@flow.map`` maps the flow input (which must then be an array); ``@flow.map(array=step)``
        maps the output of ``step``, which must be a list (define it with ``@flow.array``).
        """
        if isinstance(target, str):
            raise FlowDefinitionError(f"name a map step with slug=: @{self.slug}.map(slug={target!r}, array=...)")
        return self._decorate(target, options, step_type="map")

    def _decorate(self, target: Any, options: dict[str, Any], **kind: Any) -> Any:
        if target is not None and not callable(target):
            raise FlowDefinitionError(
                f"@{self.slug}.step takes a function, or options as keywords: "
                f"@{self.slug}.step(depends_on=[...]); got {target!r}"
            )
        if target is None:
            def decorator(handler: F) -> F:
                self._add(handler, options, **kind)
                return handler
            return decorator
        self._add(target, options, **kind)
        return target

    _STEP_KEYWORDS = frozenset({
        "slug", "depends_on", "max_attempts", "base_delay", "timeout", "start_delay",
        "if_", "if_not", "when_unmet", "when_exhausted", "max_running", "rate_limit",
    })

    def _add(self, handler: Any, options: dict[str, Any], *, step_type: str, returns_array: bool = False) -> None:
        allowed = self._STEP_KEYWORDS | ({"array"} if step_type == "map" else set())
        method = "map" if step_type == "map" else "array" if returns_array else "step"
        unknown = sorted(set(options) - allowed)
        if unknown:
            hint = " (conditions are if_= and if_not=)" if {"if", "if_not_", "ifNot"} & set(unknown) else ""
            raise FlowDefinitionError(
                f"@{self.slug}.{method}() got unknown option(s) {', '.join(unknown)}{hint}; "
                f"the options are: {', '.join(sorted(allowed))}"
            )
        options = dict(options)
        slug = options.pop("slug", None)
        if slug is None:
            slug = handler_name(handler)
        if slug is None:
            raise FlowDefinitionError(
                f"{self.flow_type} {self.slug!r}: cannot take a step name from {handler!r}; pass slug='...'"
            )
        if step_type == "map":
            if options.get("depends_on"):
                raise FlowDefinitionError(
                    f"map step {slug!r} of flow {self.slug!r}: a map step fans out over exactly one array, "
                    f"so it takes array=<step> instead of depends_on (and at most one dependency). To combine "
                    f"several steps, add an @{self.slug}.array step that depends on them and builds the list, "
                    f"then map over it"
                )
            options.pop("depends_on", None)
            array = options.pop("array", None)
            options["depends_on"] = [] if array is None else [array]
        self.add_step(slug, handler, step_type=step_type, returns_array=returns_array, **options)

    def add_step(
        self,
        slug: str,
        handler: Callable[..., Any] | None,
        *,
        depends_on: Iterable[StepRef] | StepRef = (),
        step_type: str = "single",
        max_attempts: int | None = None,
        base_delay: int | None = None,
        timeout: int | None = None,
        start_delay: int | None = None,
        if_: dict[str, Any] | None = None,
        if_not: dict[str, Any] | None = None,
        when_unmet: str = "skip",
        when_exhausted: str = "fail",
        returns_array: bool = False,
        max_running: int | None = None,
        wait: WaitSpec | None = None,
        rate_limit: tuple[int, float] | None = None,
    ) -> StepDefinition:
        """Validate and append one step; the decorators and ``from_steps`` all end here."""
        v.check_slug(slug, f"a step of {self.flow_type} {self.slug!r}")
        where = f"step {slug!r} of {self.flow_type} {self.slug!r}"
        if slug in self._steps:
            raise FlowDefinitionError(
                f"{self.flow_type} {self.slug!r} already has a step named {slug!r}; step slugs must be unique "
                f"within a flow: rename the function or pass slug='...'"
            )
        if len(self._steps) >= v.MAX_STEPS:
            raise FlowDefinitionError(
                f"{where}: {self.flow_type} {self.slug!r} already has {v.MAX_STEPS} steps, the most a flow can "
                f"have; do many similar units of work as one map step (one task per item), or split the flow"
            )
        same = next((s for s in self._steps if s.lower() == slug.lower()), None)
        if same is not None:
            raise FlowDefinitionError(
                f"{where}: differs from step {same!r} only in case; step slugs must differ in more than "
                f"case (their queues would clash): rename one of them"
            )
        if self.step_queues:
            queue = self._step_queue_name(slug, len(self._steps))
            if queue is None:
                raise FlowDefinitionError(
                    f"{where}: with step_queues=True each step gets a queue named {self.slug}__<step> or "
                    f"{self.slug}__<index>, at most {v.MAX_QUEUE_NAME_LENGTH} characters; shorten the flow slug"
                )
        if step_type not in ("single", "map"):
            raise FlowDefinitionError(f"{where}: step_type must be 'single' or 'map', got {step_type!r}")
        deps = self._resolve_deps(slug, depends_on, where)
        if step_type == "map" and len(deps) > 1:
            raise FlowDefinitionError(
                f"{where}: a map step can have at most one dependency (the step whose array it maps), "
                f"got {len(deps)}: {', '.join(deps)}. Add a step that combines them into one list and map that"
            )
        is_async, takes_context = (False, False) if handler is None else inspect_handler(handler, where)
        definition = StepDefinition(
            slug=slug,
            handler=handler,
            depends_on=deps,
            step_type=step_type,  # type: ignore[arg-type]
            array=deps[0] if step_type == "map" and deps else None,
            max_attempts=v.check_option("max_attempts", max_attempts, where),
            base_delay=v.check_option("base_delay", base_delay, where),
            timeout=v.check_option("timeout", timeout, where),
            start_delay=v.check_option("start_delay", start_delay, where),
            required_input_pattern=v.check_pattern("if_", if_, where),
            forbidden_input_pattern=v.check_pattern("if_not", if_not, where),
            when_unmet=v.check_mode("when_unmet", when_unmet, where),  # type: ignore[arg-type]
            when_exhausted=v.check_mode("when_exhausted", when_exhausted, where),  # type: ignore[arg-type]
            is_async=is_async,
            takes_context=takes_context,
            returns_array=returns_array,
            index=len(self._steps),
            wait=wait,
            max_running=v.check_option("max_running", max_running, where),
            rate_limit=v.check_rate(rate_limit, where),
        )
        self._steps[slug] = definition
        return definition

    def _resolve_deps(self, slug: str, depends_on: Any, where: str) -> tuple[str, ...]:
        if depends_on is None:
            return ()
        if isinstance(depends_on, (str, StepDefinition)) or callable(depends_on):
            depends_on = [depends_on]
        if not isinstance(depends_on, (list, tuple, set, frozenset)):
            raise FlowDefinitionError(
                f"{where}: depends_on must be a list of steps (their functions or slugs), got {depends_on!r}"
            )
        deps: list[str] = []
        for ref in depends_on:
            dep = self._resolve_ref(ref, slug, where)
            if dep in deps:
                raise FlowDefinitionError(f"{where}: depends on {dep!r} twice; list each dependency once")
            deps.append(dep)
        return tuple(deps)

    def _resolve_ref(self, ref: Any, slug: str, where: str) -> str:
        if isinstance(ref, StepDefinition):
            if self._steps.get(ref.slug) is not ref:
                raise FlowDefinitionError(
                    f"{where}: depends on step {ref.slug!r} of another flow; depend on steps of "
                    f"{self.flow_type} {self.slug!r} ({self._known()})"
                )
            return ref.slug
        if isinstance(ref, str):
            if ref == slug:
                raise FlowDefinitionError(f"{where}: a step cannot depend on itself")
            if ref not in self._steps:
                raise FlowDefinitionError(
                    f"{where}: depends on unknown step {ref!r}; steps defined so far: {self._known()}. "
                    f"Fix the name, or define {ref!r} before {slug!r} (dependencies come first)"
                )
            return ref
        if callable(ref):
            matches = [s.slug for s in self._steps.values() if s.handler is ref]
            if len(matches) == 1:
                return matches[0]
            name = handler_name(ref) or repr(ref)
            if len(matches) > 1:
                raise FlowDefinitionError(
                    f"{where}: {name} is the handler of several steps ({', '.join(matches)}); "
                    f"depend on one of them by slug"
                )
            raise FlowDefinitionError(
                f"{where}: depends on {name}, which is not a step of {self.flow_type} {self.slug!r} "
                f"(steps defined so far: {self._known()}); decorate it with @{self.slug}.step above "
                f"{slug!r}, or pass a slug"
            )
        raise FlowDefinitionError(
            f"{where}: cannot depend on {ref!r}; pass a step's function, StepDefinition or slug"
        )

    def _known(self) -> str:
        return ", ".join(self._steps) or "(none)"

    # ----------------------------------------------------------------------------- from data

    @classmethod
    def from_steps(
        cls,
        slug: str,
        steps: Sequence[dict[str, Any]],
        *,
        max_attempts: int | None = None,
        base_delay: int | None = None,
        timeout: int | None = None,
    ) -> Flow:
        """Build and validate a flow from plain dicts (runtime definitions, no handlers).

        Each dict has ``slug`` and optionally ``deps`` (or ``depends_on``), ``step_type``
        ("single"/"map"), ``max_attempts``, ``base_delay``, ``timeout``, ``start_delay``,
        ``required_input_pattern`` (or ``if_``), ``forbidden_input_pattern`` (or ``if_not``),
        ``when_unmet`` and ``when_exhausted``; the format of :meth:`to_upsert_steps`.
        """
        flow = cls(slug, max_attempts=max_attempts, base_delay=base_delay, timeout=timeout)
        rows = [step_kwargs(row, i, slug) for i, row in enumerate(steps)]
        check_order(slug, [(r["slug"], list(r["depends_on"])) for r in rows])
        for row in rows:
            flow.add_step(row.pop("slug"), None, **row)
        return flow


def _limits_of(max_running: int | None, rate_limit: tuple[int, float] | None) -> dict[str, Any]:
    """The flow control of a flow or a step as ``pgflow._declare_flow_limits`` takes it."""
    limits: dict[str, Any] = {}
    if max_running is not None:
        limits["max_running"] = max_running
    if rate_limit is not None:
        limits["rate_limit"] = {"count": rate_limit[0], "per": rate_limit[1]}
    return limits


def _coerce_cron(cron: str | Cron | None) -> Cron | None:
    if cron is None:
        return None
    from pgflow.dsl.cron import Cron  # owned by the schedules part; imported only when used

    return Cron.coerce(cron)
