"""Typed parameter blocks, validated by Kedro before a run touches anything.

Kedro 1.7 validates every ``params:`` input whose node argument is annotated with a
pydantic model, for the pipelines a ``kedro run`` runs, while it builds the catalog: before
any hook, MLflow run or node. A wrong type, a value out of range, a name not allowed or a
key nothing reads stops the run with the key, the value and what is allowed (the project's
context, :class:`neural_pipelines.config.ProjectContext`, adds the file to edit). The node
then receives the model instance, so a setting Keras would silently replace (``batch_size:
0`` trains at 32) or TensorFlow would abort on (``history_hours: 0``) never reaches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

#: A share of the rows, strictly between 0 and 1 (0 leaves a split empty; 1 leaves nothing else).
Fraction = Annotated[float, Field(gt=0, lt=1)]

#: A count that must be at least one (epochs, batch size, hours of a window, units, filters …).
Count = Annotated[int, Field(ge=1)]

#: The share of a layer's inputs dropout zeroes during training: 0 (none) up to, not including, 1.
Dropout = Annotated[float, Field(ge=0, lt=1)]


class Parameters(BaseModel):
    """A parameter block: every key known, types as written (``"32"`` is not a batch size), read-only.

    A block that sets ``block`` and ``misplaced_hint`` answers a key nothing reads by naming
    the keys it takes and where the stray setting belongs (an old ``training.learning_rate``
    would otherwise be silently ignored, and still look set).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    block: ClassVar[str] = ""
    misplaced_hint: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _only_known_keys(cls, values: Any) -> Any:
        unknown = sorted(set(values) - set(cls.model_fields)) if cls.misplaced_hint and isinstance(values, dict) else []
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not a {cls.block} setting (a {cls.block} block sets {', '.join(cls.model_fields)}); "
                f"{cls.misplaced_hint}"
            )
        return values


class ImageSize(RootModel[tuple[Annotated[int, Field(ge=1, strict=True)], Annotated[int, Field(ge=1, strict=True)]]]):
    """``image_size: [height, width]`` every image is resized to; reads like the list it is written as."""

    def __iter__(self) -> Iterator[int]:  # type: ignore[override]  # pydantic's documented RootModel idiom
        return iter(self.root)

    def __getitem__(self, index: int) -> int:
        return self.root[index]

    def __len__(self) -> int:
        return len(self.root)
