"""``sample_images`` end to end in the test environment: the folders the image pipelines read, identical on a re-run.

(Another seed drawing other images is checked on the node, in test_nodes.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from neural_pipelines.datasets import ImageFolderDataset
from neural_pipelines.pipelines.sample_images import create_pipeline
from neural_pipelines.validation import validate_image_folder
from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

FOLDERS = "data/01_raw/sample_images"


@pytest.fixture(scope="module")
def drawn(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("sample_images")


@pytest.fixture
def own_run(drawn: TempProject, tmp_path: Path) -> TempProject:
    """A copy of the drawn folders, for the test that draws them again."""
    return drawn.fork(tmp_path / "project")


def test_the_folders_hold_the_configured_images_in_the_real_datasets_layout(drawn: TempProject) -> None:
    horse_or_human = ImageFolderDataset(str(drawn.path / FOLDERS / "horse_or_human")).load()
    checked = validate_image_folder(horse_or_human, ["horses", "humans"], ["train", "validation"], skip_corrupt=False)
    assert checked.groupby(["split", "class_name"]).size().to_dict() == {
        ("train", "horses"): 6,
        ("train", "humans"): 6,
        ("validation", "horses"): 3,
        ("validation", "humans"): 3,
    }
    assert set(checked["mode"]) == {"RGB"}
    assert {Image.open(path).size for path in checked["filepath"]} == {(96, 96)}
    vgg16 = ImageFolderDataset(str(drawn.path / FOLDERS / "vgg16_finetune")).load()
    assert len(validate_image_folder(vgg16, ["horses", "humans"], ["train", "validation"])) == 18
    assert {Image.open(path).size for path in vgg16["filepath"]} == {(32, 32)}
    new = ImageFolderDataset(str(drawn.path / FOLDERS / "vgg16_finetune_new"), layout="flat").load()
    assert [Path(path).name for path in new["filepath"]] == ["new_001.png", "new_002.png", "new_003.png", "new_004.png"]


def test_a_second_run_writes_byte_identical_files_and_no_mlflow_model_runs(own_run: TempProject) -> None:
    first = own_run.outputs("01_raw/sample_images/**/*")
    assert len(first) == 18 + 18 + 4
    own_run.run("sample_images")
    assert own_run.outputs("01_raw/sample_images/**/*") == first
    assert own_run.runs("sample_images").empty  # a generator, not a model: no variant runs
    assert sorted(path.name for path in (own_run.path / FOLDERS).iterdir()) == ["horse_or_human", "vgg16_finetune", "vgg16_finetune_new"]


def test_one_single_level_namespace_and_outputs_transcoded_with_the_readers_folders() -> None:
    pipeline = create_pipeline()
    assert {node.namespace for node in pipeline.nodes} == {"sample_images"}
    assert pipeline.outputs() == {
        "horse_or_human.raw_images@generated",
        "vgg16_finetune.raw_images@generated",
        "vgg16_finetune.new_images@generated",
    }
    assert pipeline.inputs() == {
        "params:sample_images.style",
        "params:sample_images.horse_or_human",
        "params:sample_images.vgg16_finetune",
        "params:sample_images.vgg16_finetune_new",
    }
