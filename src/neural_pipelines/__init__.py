"""neural-pipelines: a neural-networks course as reproducible Kedro pipelines."""

import os

# TensorFlow reads this when it is first imported; importing the package first keeps
# its C++ start-up chatter (CUDA probing, oneDNN notices) out of every run and test.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
