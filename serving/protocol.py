"""What the server and the clients share of TF Serving's protocol: the default signature key,
the gRPC message size and the canonical status codes a refused request carries."""

from __future__ import annotations

from t2izoo.errors import T2IError

# TF Serving's default signature key (tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY), called
# when a request names none; t2izoo.export.saved_model exports its SERVING_SIGNATURE under it.
DEFAULT_SIGNATURE = "serving_default"
# gRPC's 4 MiB default is too small for a batch of 256x256 images.
GRPC_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

_HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "NOT_FOUND": 404,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
}


class ServingError(T2IError):
    """A request the server refuses, with the canonical status code TF Serving would use.

    Args:
        code: canonical gRPC status name: "INVALID_ARGUMENT", "NOT_FOUND", "UNAVAILABLE",
            "UNIMPLEMENTED", "FAILED_PRECONDITION" or "INTERNAL".
        message: one line saying what was wrong and what was expected.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code, 500)


def invalid(message: str) -> ServingError:
    """An INVALID_ARGUMENT error (HTTP 400)."""
    return ServingError("INVALID_ARGUMENT", message)
