"""TF Serving's batching and monitoring config messages, for validating rendered files.

tensorflow-serving-api ships Python modules for the model server config, but not for
`BatchingParameters` (session_bundle_config.proto) or `MonitoringConfig` (monitoring_config.proto).
These descriptors repeat the upstream names, numbers and types, so a file that parses here parses
in `tensorflow_model_server` too.
"""

from __future__ import annotations

from functools import cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _field(
    msg: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    kind: int,
    type_name: str = "",
    repeated: bool = False,
) -> None:
    field = msg.field.add(
        name=name,
        number=number,
        type=kind,
        label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
    )
    if type_name:
        field.type_name = type_name


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)

    f = descriptor_pb2.FileDescriptorProto(
        name="mlops/tf_serving_extra.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    batching = f.message_type.add(name="BatchingParameters")
    i64 = ".google.protobuf.Int64Value"
    _field(batching, "max_batch_size", 1, _F.TYPE_MESSAGE, i64)
    _field(batching, "batch_timeout_micros", 2, _F.TYPE_MESSAGE, i64)
    _field(batching, "thread_pool_name", 3, _F.TYPE_MESSAGE, ".google.protobuf.StringValue")
    _field(batching, "num_batch_threads", 4, _F.TYPE_MESSAGE, i64)
    _field(batching, "max_enqueued_batches", 5, _F.TYPE_MESSAGE, i64)
    _field(batching, "allowed_batch_sizes", 6, _F.TYPE_INT64, repeated=True)
    _field(batching, "pad_variable_length_inputs", 7, _F.TYPE_BOOL)

    prometheus = f.message_type.add(name="PrometheusConfig")
    _field(prometheus, "enable", 1, _F.TYPE_BOOL)
    _field(prometheus, "path", 2, _F.TYPE_STRING)
    monitoring = f.message_type.add(name="MonitoringConfig")
    _field(
        monitoring, "prometheus_config", 1, _F.TYPE_MESSAGE, ".tensorflow.serving.PrometheusConfig"
    )
    pool.Add(f)
    return pool


def message_class(name: str) -> type:
    """`BatchingParameters` or `MonitoringConfig` (package tensorflow.serving)."""
    return message_factory.GetMessageClass(
        _pool().FindMessageTypeByName(f"tensorflow.serving.{name}")
    )
