"""The stand-in's gRPC services, with upstream's status codes for the same errors.

From `prediction_service_impl.cc`, `predict_util.cc`, `get_model_metadata_impl.cc` and
`get_model_status_impl.cc`: a request without `model_spec` is INVALID_ARGUMENT; an unknown
signature in Predict is FAILED_PRECONDITION (over REST the same is a 400 found earlier); inputs
that do not match the signature are INVALID_ARGUMENT; `GetModelMetadata` needs
`metadata_field: "signature_def"`; `GetModelStatus` ignores a version label. Predict counts in
`:tensorflow:serving:request_count` and, when OK, in the latency histogram as API "Predict",
entrypoint "GRPC".
"""

from __future__ import annotations

import time
from typing import Any

from serving.standin.model_manager import FailedPrecondition, InvalidArgument, ServingError, Version

SIGNATURE_DEF = "signature_def"


def _check_inputs(sig: Any, request: Any) -> None:
    """predict_util.cc VerifyRequestInputsSize, then every signature input present."""
    sent, wanted = set(request.inputs), set(sig.inputs)
    if len(sent) > len(wanted) or (len(sent) < len(wanted) and not sig.defaults):
        raise InvalidArgument(
            f"input size does not match signature: {len(sent)}!={len(wanted)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
            f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. Missing but required: "
            f"{{{','.join(sorted(wanted - sent))}}}."
        )
    for alias in sorted(sent - wanted):
        raise InvalidArgument(
            f"input tensor alias not found in signature: {alias}. Inputs "
            f"expected to be in the set {{{','.join(sorted(wanted))}}}."
        )


def _outputs(sig: Any, request: Any) -> list[str]:
    seen: list[str] = []
    for alias in request.output_filter:
        if alias not in sig.outputs:
            raise InvalidArgument(
                f"output tensor alias not found in signature: {alias} "
                f"Outputs expected to be in the set "
                f"{{{','.join(sorted(sig.outputs))}}}."
            )
        if alias in seen:
            raise InvalidArgument(f"duplicate output tensor alias: {alias}")
        seen.append(alias)
    return seen


def servicers(server: Any) -> tuple[Any, Any]:
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    state_enum = get_model_status_pb2.ModelVersionStatus.State

    def spec_of(request: Any) -> Any:
        if not request.HasField("model_spec"):
            raise InvalidArgument("Missing ModelSpec")
        return request.model_spec

    def target(spec: Any) -> Version:
        which = spec.WhichOneof("version_choice")
        return server.manager.resolve(
            spec.name,
            spec.version.value if which == "version" else None,
            spec.version_label if which == "version_label" else None,
        )

    async def abort(context: Any, exc: ServingError) -> None:
        code = getattr(grpc.StatusCode, exc.code, grpc.StatusCode.UNKNOWN)
        await context.abort(code, str(exc))

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
        async def Predict(self, request: Any, context: Any) -> Any:
            started, code = time.perf_counter(), "OK"
            try:
                spec = spec_of(request)
                v = target(spec)
                signature = spec.signature_name or "serving_default"
                sig = v.signature_defs.get(signature)
                if sig is None:
                    raise FailedPrecondition(f'Serving signature key "{signature}" not found.')
                _check_inputs(sig, request)
                wanted = _outputs(sig, request)
                try:
                    inputs = {k: tf.make_ndarray(t) for k, t in request.inputs.items()}
                except Exception as exc:  # a TensorProto that does not hold its shape
                    raise InvalidArgument(f"invalid input tensor: {exc}") from None
                outputs = await server.run(v, signature, inputs)
                response = predict_pb2.PredictResponse()
                response.model_spec.name = spec.name
                response.model_spec.version.value = v.number
                response.model_spec.signature_name = signature
                for k, value in outputs.items():
                    if not wanted or k in wanted:
                        response.outputs[k].CopyFrom(tf.make_tensor_proto(value))
                return response
            except ServingError as exc:
                code = exc.code
                await abort(context, exc)
            finally:
                server.metrics.request(
                    request.model_spec.name,
                    code,
                    "Predict",
                    "GRPC",
                    (time.perf_counter() - started) * 1e6,
                )

        async def GetModelMetadata(self, request: Any, context: Any) -> Any:
            try:
                spec = spec_of(request)
                if not request.metadata_field:
                    raise InvalidArgument(
                        "GetModelMetadataRequest must specify at least one metadata_field"
                    )
                for field in request.metadata_field:
                    if field != SIGNATURE_DEF:
                        raise InvalidArgument(f"Metadata field {field} is not supported")
                v = target(spec)
            except ServingError as exc:
                await abort(context, exc)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = spec.name
            response.model_spec.version.value = v.number
            sig_map = get_model_metadata_pb2.SignatureDefMap()
            for k, d in v.signature_defs.items():
                sig_map.signature_def[k].CopyFrom(d)
            response.metadata[SIGNATURE_DEF].Pack(sig_map)
            return response

    class Status(model_service_pb2_grpc.ModelServiceServicer):
        async def GetModelStatus(self, request: Any, context: Any) -> Any:
            try:
                spec = spec_of(request)
                which = spec.WhichOneof("version_choice")
                versions = server.manager.status(
                    spec.name, spec.version.value if which == "version" else None
                )
            except ServingError as exc:
                await abort(context, exc)
            response = get_model_status_pb2.GetModelStatusResponse()
            for v in versions:
                s = response.model_version_status.add()
                s.version = v.number
                s.state = state_enum.Value(v.state)
                s.status.error_code = getattr(grpc.StatusCode, v.error_code).value[0]
                s.status.error_message = v.error
            return response

    return Prediction(), Status()
