"""Custom Kedro datasets shared by every pipeline."""

from neural_pipelines.datasets.csv_table import CSVTableDataset
from neural_pipelines.datasets.download import DownloadedFileDataset
from neural_pipelines.datasets.image_folder import ImageFolderDataset
from neural_pipelines.datasets.keras_arrays import KerasArraysDataset
from neural_pipelines.datasets.keras_model import KerasModelDataset
from neural_pipelines.datasets.mlflow_artifact import VersionedMlflowArtifactDataset
from neural_pipelines.datasets.npz import NpzDataset
from neural_pipelines.datasets.package_file import PackageFileDataset
from neural_pipelines.datasets.scikit_learn import ScikitLearnDataset

__all__ = [
    "CSVTableDataset",
    "DownloadedFileDataset",
    "ImageFolderDataset",
    "KerasArraysDataset",
    "KerasModelDataset",
    "NpzDataset",
    "PackageFileDataset",
    "ScikitLearnDataset",
    "VersionedMlflowArtifactDataset",
]
