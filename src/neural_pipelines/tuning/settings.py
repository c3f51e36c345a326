"""The ``tuning`` parameter block: what a study searches, how long, and where it is stored.

A search space maps a dotted path into the tuned variant's parameter block (``model.units``,
``optimizer.learning_rate``, ``training.batch_size``) to a distribution::

    search_space:
      model.units: {type: int, low: 8, high: 64, log: true}
      optimizer.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      training.batch_size: {type: categorical, choices: [32, 64, 128]}

(YAML reads ``1e-4`` as a string: write ``1.0e-4``.) Every value is checked before the first
trial, with the key and what is allowed in the message, so a study never runs a budget's
worth of trials on a typo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, field_validator, model_validator

from neural_pipelines.parameters import Count, Parameters

#: Values Optuna can store as a categorical choice.
Choice = str | bool | int | float | None


class Distribution(Parameters):
    """One searched parameter: ``int`` or ``float`` from ``low`` to ``high`` (with ``log`` or ``step``), or ``categorical`` ``choices``."""

    type: Literal["int", "float", "categorical"]
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = None
    choices: list[Choice] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Distribution:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical distribution needs a non-empty list of choices")
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("a categorical distribution takes choices only (no low, high, step or log)")
            return self
        if self.choices is not None:
            raise ValueError(f"an {self.type} distribution takes low and high, not choices (use type: categorical)")
        if self.low is None or self.high is None:
            raise ValueError(f"an {self.type} distribution needs low and high")
        if self.type == "int" and not all(isinstance(value, int) for value in (self.low, self.high, self.step or 1)):
            raise ValueError(f"an int distribution needs whole-number low, high and step (got low={self.low}, high={self.high})")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        if self.log and (self.step is not None or self.low <= 0):
            raise ValueError("a log distribution needs low > 0 and no step")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be positive (got {self.step})")
        return self


class PrunerSettings(Parameters):
    """Optuna's ``MedianPruner``: stop a trial whose monitored value is worse than the median of earlier trials at the same epoch."""

    enabled: bool = True
    n_startup_trials: NonNegativeInt = 5  # trials that always run to the end before any is pruned
    n_warmup_steps: NonNegativeInt = 0  # epochs of every trial that are never pruned

    block = "tuning.pruner"
    misplaced_hint = "the pruner is Optuna's MedianPruner"


class TuningSettings(Parameters):
    """A ``tuning`` block (see the module docstring for ``search_space``).

    ``storage`` is a SQLite file (relative paths are taken from the project folder) or an
    SQLAlchemy URL: the study lives there, so a rerun with the same ``study_name`` resumes it.
    ``fixed`` sets values every trial uses without searching them (e.g. fewer epochs, so the
    budget holds more trials); they are logged with each trial but not written to the best
    parameters.
    """

    study_name: str = Field(min_length=1)
    direction: Literal["minimize", "maximize"] = "minimize"
    monitor: str = "val_loss"  # the Keras log key reported each epoch (pruning) and scored at the end
    n_trials: Count  # trials that finish (complete or pruned), counting those already stored
    timeout_seconds: PositiveFloat | None = None  # no new trial starts after this; null: no time budget
    seed: int = 0
    storage: str = Field(min_length=1)
    sampler_startup_trials: NonNegativeInt = 10  # random trials before TPE models the results
    pruner: PrunerSettings = PrunerSettings()
    search_space: dict[str, Distribution] = Field(min_length=1)
    fixed: dict[str, Any] = Field(default_factory=dict)

    block = "tuning"
    misplaced_hint = "a searched parameter belongs under search_space, a fixed one under fixed"

    @field_validator("search_space", "fixed")
    @classmethod
    def _dotted_paths(cls, entries: dict[str, Any]) -> dict[str, Any]:
        for path in entries:
            if not all(part.strip() for part in path.split(".")):
                raise ValueError(f"{path!r} is not a dotted parameter path such as model.units")
        return entries

    @model_validator(mode="after")
    def _searched_or_fixed(self) -> TuningSettings:
        both = sorted(set(self.search_space) & set(self.fixed))
        if both:
            raise ValueError(f"{', '.join(both)} is both searched (search_space) and fixed (fixed): keep one")
        return self

    def storage_url(self) -> str:
        """The study's storage as an SQLAlchemy URL; a file path becomes ``sqlite:///<absolute path>`` and gets its folder."""
        if "://" in self.storage:
            return self.storage
        path = Path(self.storage).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
