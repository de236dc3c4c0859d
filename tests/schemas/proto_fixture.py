"""Protobuf message classes built at import from a FileDescriptorProto (no protoc needed).

`demo/orders.proto` (package demo) imports google/protobuf/timestamp.proto, so registering
it exercises schema references; `Order` is its second top-level message and `Order.Line` a
nested one, so the message-index list is not the trivial [0].
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    fd = descriptor_pb2.FileDescriptorProto(
        name="demo/orders.proto", package="demo", syntax="proto3"
    )
    fd.dependency.append("google/protobuf/timestamp.proto")
    note = fd.message_type.add(name="Note")
    note.field.add(name="text", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    order = fd.message_type.add(name="Order")
    line = order.nested_type.add(name="Line")
    line.field.add(name="sku", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    line.field.add(name="qty", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    order.field.add(name="id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    order.field.add(name="amount", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    order.field.add(
        name="lines",
        number=3,
        type=F.TYPE_MESSAGE,
        label=F.LABEL_REPEATED,
        type_name=".demo.Order.Line",
    )
    order.field.add(
        name="placed",
        number=4,
        type=F.TYPE_MESSAGE,
        label=F.LABEL_OPTIONAL,
        type_name=".google.protobuf.Timestamp",
    )
    return fd


_pool = descriptor_pool.DescriptorPool()
_pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
_pool.Add(_file())
Note = message_factory.GetMessageClass(_pool.FindMessageTypeByName("demo.Note"))
Order = message_factory.GetMessageClass(_pool.FindMessageTypeByName("demo.Order"))
Line = message_factory.GetMessageClass(_pool.FindMessageTypeByName("demo.Order.Line"))
