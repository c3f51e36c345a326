"""Wiring of ``sample_images``.

One node per image folder, all in the single-level namespace ``sample_images`` (a
two-level namespace would open a model-variant MLflow run). The outputs are the
``@generated`` side of transcoded datasets whose ``@folder`` side the image pipelines read
(``horse_or_human.raw_images@folder`` …): one dataset to Kedro, so ``kedro run`` draws the
folders before anything reads them, while ``conf/full`` points only the ``@folder`` entries
at downloaded data, which the generator therefore never writes over.
"""

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.sample_images import nodes

PIPELINE = "sample_images"

#: catalog dataset drawn → (node, parameter block under ``sample_images``)
FOLDERS = {
    "horse_or_human.raw_images@generated": (nodes.draw_image_folder, "horse_or_human"),
    "vgg16_finetune.raw_images@generated": (nodes.draw_image_folder, "vgg16_finetune"),
    "vgg16_finetune.new_images@generated": (nodes.draw_unlabeled_images, "vgg16_finetune_new"),
}


def create_pipeline(**kwargs) -> Pipeline:
    """Draw every sample image folder from its parameters and the shared drawing style."""
    return Pipeline(
        [
            Node(function, [f"params:{PIPELINE}.{block}", f"params:{PIPELINE}.style"], output, name=f"draw_{block}", namespace=PIPELINE)
            for output, (function, block) in FOLDERS.items()
        ]
    )
