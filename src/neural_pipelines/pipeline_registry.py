"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that need a download (the `full` environment) are left out of __default__
# only when they cannot run offline; every pipeline here runs on bundled data.
OFFLINE_PIPELINES = ("traffic_lstm",)


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline under `pipelines/` by its folder name; `__default__` runs the offline ones."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipelines[name] for name in OFFLINE_PIPELINES if name in pipelines), Pipeline([])
    )
    return pipelines
