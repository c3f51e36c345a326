"""neural-pipelines: a neural-networks course as reproducible Kedro pipelines."""

import os

# TensorFlow reads this when it is first imported; importing the package first keeps its
# C++ chatter (CUDA probing on CPU-only machines, graph-attribute notices logged at ERROR
# level though harmless) out of every run and test. Python-level errors still raise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
