"""TF Serving's gRPC API (`tensorflow.serving.PredictionService`) over a ModelRegistry.

`Predict` and `GetModelMetadata` are served (the other methods answer UNIMPLEMENTED); a
refused request gets the canonical status code of its ServingError and one-line details.

Example:
    server, port = start_grpc_server(registry, host="127.0.0.1", port=0, workers=32)
    ...
    server.stop(1.0).wait()
"""

from __future__ import annotations

import logging

from serving.protocol import GRPC_MAX_MESSAGE_BYTES, ServingError, invalid
from serving.registry import ModelRegistry, dtype_name
from t2izoo.errors import ConfigError

logger = logging.getLogger(__name__)


def make_servicer(registry: ModelRegistry):
    """A PredictionServiceServicer answering from `registry`."""
    import grpc
    import tensorflow as tf
    from google.protobuf import wrappers_pb2
    from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2, predict_pb2, prediction_service_pb2_grpc

    codes = {
        "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
        "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
        "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
        "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
        "UNIMPLEMENTED": grpc.StatusCode.UNIMPLEMENTED,
        "INTERNAL": grpc.StatusCode.INTERNAL,
    }

    def resolve(spec):
        version = spec.version.value if spec.HasField("version") else None
        return registry.resolve(spec.name, version, spec.version_label)

    def response_spec(model, signature_name):
        return model_pb2.ModelSpec(name=model.name, version=wrappers_pb2.Int64Value(value=model.version),
                                   signature_name=signature_name)

    class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        """TF Serving's PredictionService over a ModelRegistry."""

        def Predict(self, request, context):
            try:
                model = resolve(request.model_spec)
                signature = model.signature(request.model_spec.signature_name)
                signature.check_input_names(request.inputs)
                inputs = {}
                for name, proto in request.inputs.items():
                    want = signature.inputs[name].dtype
                    if proto.dtype != want:
                        raise invalid(
                            f"input {name!r} has dtype {dtype_name(proto.dtype)}; signature "
                            f"{signature.name!r} expects {dtype_name(want)}")
                    try:
                        inputs[name] = tf.make_ndarray(proto)
                    except Exception as e:
                        raise invalid(f"input {name!r} is not a valid TensorProto: {e}") from None
                outputs = signature.predict(inputs, tuple(request.output_filter))
                response = predict_pb2.PredictResponse(model_spec=response_spec(model, signature.name))
                for name, value in outputs.items():
                    response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
                return response
            except ServingError as e:
                context.abort(codes[e.code], e.message)
            except Exception as e:  # answer INTERNAL rather than gRPC's opaque UNKNOWN
                logger.exception("Predict failed")
                context.abort(grpc.StatusCode.INTERNAL, f"internal error: {e}")

        def PredictRaw(self, raw: bytes, context):
            from google.protobuf.message import DecodeError

            try:
                request = predict_pb2.PredictRequest.FromString(raw)
            except (DecodeError, RuntimeWarning) as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"the request is not a valid PredictRequest (truncated or garbled): {e}")
            return self.Predict(request, context)

        def GetModelMetadata(self, request, context):
            try:
                model = resolve(request.model_spec)
                fields = list(request.metadata_field)
                if not fields:
                    raise invalid("GetModelMetadataRequest must name at least one metadata_field "
                                   "(the only one supported is 'signature_def')")
                for field in fields:
                    if field != "signature_def":
                        raise invalid(f"metadata field {field!r} is not supported; use 'signature_def'")
                response = get_model_metadata_pb2.GetModelMetadataResponse(
                    model_spec=response_spec(model, ""))
                response.metadata["signature_def"].Pack(model.signature_def_map())
                return response
            except ServingError as e:
                context.abort(codes[e.code], e.message)

    return PredictionServicer()


def start_grpc_server(registry: ModelRegistry, host: str, port: int, workers: int):
    """Starts a gRPC server for `registry` on `host:port` (0 picks a free port).

    Args:
        registry: the loaded models.
        host: interface to bind.
        port: port, or 0 for a free one.
        workers: threads answering calls (requests waiting in a batch hold one).

    Returns:
        (the started grpc.Server, the bound port).

    Raises:
        ConfigError: the port cannot be bound.
    """
    from concurrent import futures

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        options=[("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
                 ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
                 ("grpc.so_reuseport", 0)])
    servicer = make_servicer(registry)
    # Predict takes raw bytes and parses them itself: a truncated or garbled message then gets
    # INVALID_ARGUMENT, not grpc's INTERNAL "Exception deserializing request!".
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {"Predict": grpc.unary_unary_rpc_method_handler(
            servicer.PredictRaw, response_serializer=predict_pb2.PredictResponse.SerializeToString)})])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise ConfigError(f"cannot listen for gRPC on {address} (port in use?)")
    server.start()
    return server, bound
