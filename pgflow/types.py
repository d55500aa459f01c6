"""Type aliases of the public API (a leaf module: it imports nothing from pgflow).

    Json        any JSON value a caller passes: a run's input, a schedule's input
    JsonObject  a JSON object (string keys)
    RunId       a run id, as a UUID or its text
    FlowRef     a Flow, a Job (anything with a ``.slug``) or a flow slug
    HasSlug     the protocol behind FlowRef: an object with a ``slug`` string

``Json`` is built from ``Mapping`` and ``Sequence``, which are covariant, so a ``dict[str, int]``
or a ``list[str]`` is accepted where ``Json`` is expected. Values *read* from the database (a
run's output, a step's input) stay typed ``Any``, as ``json.loads`` returns them: the caller
knows their shape, the library does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeAlias, Union
from uuid import UUID

__all__ = ["FlowRef", "HasSlug", "Json", "JsonObject", "RunId"]

Json: TypeAlias = Union[Mapping[str, "Json"], Sequence["Json"], str, int, float, bool, None]
JsonObject: TypeAlias = Mapping[str, Json]
RunId: TypeAlias = Union[UUID, str]


class HasSlug(Protocol):
    """Anything that names a flow by its ``slug``: a :class:`pgflow.Flow`, a :class:`pgflow.Job`."""

    @property
    def slug(self) -> str: ...


FlowRef: TypeAlias = Union[HasSlug, str]
