"""Linear-probe accuracy: how linearly decodable a label is from a set of features.

Used on `shapes` to check what a pretrained text encoder's sentence embedding carries (colour,
shape, size, position of the object a caption describes) before a GAN is conditioned on it:
a generator cannot follow an attribute that its conditioning vector does not encode.
"""

from __future__ import annotations

import numpy as np


def linear_probe_accuracy(train_features, train_labels, test_features, test_labels, l2: float = 1e-2) -> float:
    """Accuracy of a ridge-regression one-vs-all classifier fit on train, scored on test.

    Features are standardised with the train statistics; the classifier is the closed-form
    ridge solution W = (X^T X + l2 n I)^-1 X^T Y on one-hot targets, prediction argmax(X W).

    Args:
        train_features: [N, D]; train_labels: int [N] in [0, C).
        test_features: [M, D]; test_labels: int [M].
        l2: ridge strength, relative to the number of training rows.

    Returns: accuracy in [0, 1].
    """
    x_train = np.asarray(train_features, np.float64)
    x_test = np.asarray(test_features, np.float64)
    y_train = np.asarray(train_labels, np.int64)
    y_test = np.asarray(test_labels, np.int64)
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"features must be [N, D] and [M, D], got {x_train.shape} and {x_test.shape}")
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError("one label per feature row is required")
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    x_train = np.c_[(x_train - mean) / std, np.ones(len(x_train))]
    x_test = np.c_[(x_test - mean) / std, np.ones(len(x_test))]
    classes = int(max(y_train.max(), y_test.max())) + 1
    targets = np.eye(classes)[y_train]
    gram = x_train.T @ x_train + l2 * len(x_train) * np.eye(x_train.shape[1])
    weights = np.linalg.solve(gram, x_train.T @ targets)
    return float(np.mean((x_test @ weights).argmax(1) == y_test))
