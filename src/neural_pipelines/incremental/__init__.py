"""Content-aware reruns: what a node's result depends on, as one fingerprint, and where it is stored.

``neural_pipelines.runner.IncrementalRunner`` (``kedro run --runner=neural_pipelines.runner.IncrementalRunner``)
skips a node whose fingerprint equals the one stored beside its outputs by an earlier run.
``code`` fingerprints the node's function and the project functions it reaches, ``records``
fingerprints datasets and keeps the ``.fingerprint.json`` files, ``mlflow_reuse`` lists a
skipped model variant in the new MLflow run. docs/incremental.md says what is covered and
what is not.
"""
