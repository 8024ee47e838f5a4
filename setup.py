"""t2izoo: text-to-image GANs in Keras 3 / TensorFlow."""

from setuptools import find_packages, setup

# Versions seen to install cleanly together (CPU, Python 3.11).
INSTALL_REQUIRES = [
    "tensorflow==2.21.0",
    "keras==3.15.1",
    "tensorflow-text==2.21.1",
    "tensorflow-datasets==4.9.10",
    "tensorflow-serving-api==2.21.0",
    "tensorboard>=2.20",
    "ai-edge-litert==2.3.0",
    "absl-py>=2.1",
    "numpy>=1.26,<3",
    "pillow>=10",
    "scipy>=1.11",
]
# Reading the official PyTorch checkpoints (`python -m t2izoo.convert`): the CPU build of torch,
# pinned to the version the official reference arrays were made with. Part of the test extra, so
# CI runs the .pth path.
CONVERT_REQUIRES = ["torch==2.13.0"]
TEST_REQUIRES = ["pytest>=8", "pytest-timeout>=2.3", "pytest-xdist>=3.5"] + CONVERT_REQUIRES
# The local TF Serving stand-in and clients (serving/) import grpc directly; tensorflow-serving-api
# (install_requires) already pulls it in, so this extra only names it.
SERVING_REQUIRES = ["grpcio>=1.60"]

setup(
    name="t2izoo",
    version="0.1.0",
    description="Reference Keras 3 / TensorFlow implementations of text-to-image GANs",
    packages=find_packages(include=["t2izoo", "t2izoo.*", "serving", "serving.*"]),
    python_requires=">=3.10",
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES, "serving": SERVING_REQUIRES, "convert": CONVERT_REQUIRES},
)
