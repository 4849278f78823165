#pragma once
/// \file
/// A writer of the protocol buffers wire format, just large enough for ONNX files, and the ONNX messages
/// built with it (field numbers from onnx/onnx-ml.proto). Written by hand rather than with libprotobuf: an
/// ONNX file needs only three wire types, and the library then needs neither protoc nor a generated
/// onnx.pb.cc at build time.
///
/// Wire format: a message is a sequence of fields, each a key varint (field_number << 3 | wire_type) then
///   wire type 0  varint: 7 bits a byte, least significant first, high bit set on all but the last byte
///                (an int64 is written as its two's complement uint64: 10 bytes when negative)
///   wire type 2  length-delimited: a varint byte count, then the bytes (strings, bytes, sub-messages,
///                packed repeated scalars)
///   wire type 5  32-bit little endian (float)
///
///   OnnxNode gemm{"Gemm", {"X", "W", "b"}, {"Y"}};
///   gemm.attribute("transB", std::int64_t{1});

#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aimastery {

/// One protobuf message being written.
class ProtoWriter {
 public:
  void varint_field(int field, std::uint64_t value) {
    key(field, 0);
    varint(value);
  }
  void int64_field(int field, std::int64_t value) { varint_field(field, static_cast<std::uint64_t>(value)); }
  void float_field(int field, float value) {
    key(field, 5);
    fixed32(std::bit_cast<std::uint32_t>(value));
  }
  void bytes_field(int field, std::string_view bytes) {
    key(field, 2);
    varint(bytes.size());
    buffer_.append(bytes);
  }
  void message_field(int field, const ProtoWriter& message) { bytes_field(field, message.bytes()); }
  /// A packed repeated int64 (one length-delimited field holding the varints).
  void packed_int64s(int field, std::span<const std::int64_t> values) {
    ProtoWriter packed;
    for (const std::int64_t v : values) packed.varint(static_cast<std::uint64_t>(v));
    bytes_field(field, packed.bytes());
  }
  /// A packed repeated float (one length-delimited field holding 4 bytes a value).
  void packed_floats(int field, std::span<const float> values) {
    ProtoWriter packed;
    for (const float v : values) packed.fixed32(std::bit_cast<std::uint32_t>(v));
    bytes_field(field, packed.bytes());
  }

  [[nodiscard]] const std::string& bytes() const noexcept { return buffer_; }

 private:
  void key(int field, int wire_type) {
    varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
  }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      buffer_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    buffer_.push_back(static_cast<char>(v));
  }
  void fixed32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) buffer_.push_back(static_cast<char>(v >> (8 * i)));
  }

  std::string buffer_;
};

/// TensorProto.DataType values used here.
enum class OnnxType : std::int64_t { float32 = 1, int64 = 7 };

/// NodeProto: an operator with its inputs, outputs and attributes (AttributeProto).
class OnnxNode {
 public:
  OnnxNode(std::string op_type, std::vector<std::string> inputs, std::vector<std::string> outputs,
           std::string domain = "") {
    for (const auto& i : inputs) node_.bytes_field(1, i);
    for (const auto& o : outputs) node_.bytes_field(2, o);
    node_.bytes_field(3, op_type + "_" + (outputs.empty() ? std::string() : outputs[0]));
    node_.bytes_field(4, op_type);
    if (!domain.empty()) node_.bytes_field(7, domain);
  }
  // AttributeProto: name = 1, f = 2, i = 3, s = 4, floats = 7, ints = 8, strings = 9, type = 20
  // (FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7, STRINGS 8).
  OnnxNode& attribute(std::string_view name, float value) {
    return add(name, 1, [&](ProtoWriter& a) { a.float_field(2, value); });
  }
  OnnxNode& attribute(std::string_view name, std::int64_t value) {
    return add(name, 2, [&](ProtoWriter& a) { a.int64_field(3, value); });
  }
  OnnxNode& attribute(std::string_view name, std::string_view value) {
    return add(name, 3, [&](ProtoWriter& a) { a.bytes_field(4, value); });
  }
  OnnxNode& attribute(std::string_view name, std::span<const float> values) {
    return add(name, 6, [&](ProtoWriter& a) { a.packed_floats(7, values); });
  }
  OnnxNode& attribute(std::string_view name, std::span<const std::int64_t> values) {
    return add(name, 7, [&](ProtoWriter& a) { a.packed_int64s(8, values); });
  }
  OnnxNode& attribute(std::string_view name, const std::vector<std::string>& values) {
    return add(name, 8, [&](ProtoWriter& a) {
      for (const auto& v : values) a.bytes_field(9, v);
    });
  }
  [[nodiscard]] const ProtoWriter& proto() const noexcept { return node_; }

 private:
  template <class Fill>
  OnnxNode& add(std::string_view name, std::int64_t type, Fill fill) {
    ProtoWriter a;
    a.bytes_field(1, name);
    fill(a);
    a.int64_field(20, type);
    node_.message_field(5, a);
    return *this;
  }
  ProtoWriter node_;
};

/// GraphProto and the ModelProto around it.
class OnnxGraph {
 public:
  explicit OnnxGraph(std::string name) { graph_.bytes_field(2, name); }

  void node(const OnnxNode& n) { graph_.message_field(1, n.proto()); }

  /// A float initializer (TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9, little endian).
  void initializer(const std::string& name, const std::vector<std::int64_t>& dims, std::span<const float> values) {
    ProtoWriter t;
    t.packed_int64s(1, dims);
    t.int64_field(2, static_cast<std::int64_t>(OnnxType::float32));
    t.bytes_field(8, name);
    std::string raw(4 * values.size(), '\0');
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::uint32_t bits = std::bit_cast<std::uint32_t>(values[i]);
      for (int b = 0; b < 4; ++b) raw[4 * i + static_cast<std::size_t>(b)] = static_cast<char>(bits >> (8 * b));
    }
    t.bytes_field(9, raw);
    graph_.message_field(5, t);
  }

  /// A graph input (field 11) or output (field 12): ValueInfoProto {name = 1, type = 2}, TypeProto
  /// {tensor_type = 1}, Tensor {elem_type = 1, shape = 2}, TensorShapeProto {dim = 1}, Dimension
  /// {dim_value = 1, dim_param = 2}. A dimension < 0 is the symbolic batch size "N".
  void input(const std::string& name, OnnxType type, const std::vector<std::int64_t>& dims) {
    value_info(11, name, type, dims);
  }
  void output(const std::string& name, OnnxType type, const std::vector<std::int64_t>& dims) {
    value_info(12, name, type, dims);
  }

  /// ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7, opset_import = 8
  /// (OperatorSetIdProto {domain = 1, version = 2}).
  [[nodiscard]] std::string model(std::string_view producer_version, bool uses_ml) const {
    ProtoWriter m;
    m.int64_field(1, 8);  // IR version 8 (ONNX 1.10+), read by every current runtime
    m.bytes_field(2, "aimastery");
    m.bytes_field(3, producer_version);
    m.message_field(7, graph_);
    ProtoWriter onnx_opset;
    onnx_opset.bytes_field(1, "");
    onnx_opset.int64_field(2, 17);
    m.message_field(8, onnx_opset);
    if (uses_ml) {
      ProtoWriter ml_opset;
      ml_opset.bytes_field(1, "ai.onnx.ml");
      ml_opset.int64_field(2, 3);
      m.message_field(8, ml_opset);
    }
    return m.bytes();
  }

 private:
  void value_info(int field, const std::string& name, OnnxType type, const std::vector<std::int64_t>& dims) {
    ProtoWriter shape;
    for (const std::int64_t d : dims) {
      ProtoWriter dim;
      if (d < 0)
        dim.bytes_field(2, "N");
      else
        dim.int64_field(1, d);
      shape.message_field(1, dim);
    }
    ProtoWriter tensor;
    tensor.int64_field(1, static_cast<std::int64_t>(type));
    tensor.message_field(2, shape);
    ProtoWriter type_proto;
    type_proto.message_field(1, tensor);
    ProtoWriter info;
    info.bytes_field(1, name);
    info.message_field(2, type_proto);
    graph_.message_field(field, info);
  }

  ProtoWriter graph_;
};

}  // namespace aimastery
