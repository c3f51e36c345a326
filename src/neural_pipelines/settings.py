"""Project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

from omegaconf.resolvers import oc

from neural_pipelines.config import ProjectConfigLoader, ProjectContext
from neural_pipelines.hooks import DataSourceHook, MlflowExperimentHook, MlflowVariantRunsHook, RunLockHook

# kedro-mlflow registers its own MlflowHook through its entry point; these add what it
# lacks: one kedro run at a time per project, one nested MLflow run per model variant,
# data provenance on every input, and an experiment that two first runs on a team server can both create.
HOOKS = (RunLockHook(), MlflowVariantRunsHook(), DataSourceHook(), MlflowExperimentHook())

# Kedro's context, whose parameter validation errors name the parameter file to edit (config.py).
CONTEXT_CLASS = ProjectContext

# OmegaConfigLoader, plus every model variant's settings completed from the pipeline's (config.py).
CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Kedro turns `oc.env` off outside credentials; mlflow.yml needs it so that the
    # MLFLOW_TRACKING_URI environment variable overrides the embedded SQLite default.
    "custom_resolvers": {"oc.env": oc.env},
    # conf/test and conf/local override single values (e.g. traffic_lstm.training.max_epochs)
    # without restating the whole traffic_lstm block.
    "merge_strategy": {"parameters": "soft"},
}
