"""``vgg16_finetune``: VGG16 feature extraction, block5 fine-tuning and MobileNetV2 on an image folder; predictions for new pictures."""

from neural_pipelines.pipelines.vgg16_finetune.pipeline import create_pipeline

__all__ = ["create_pipeline"]
