#include "io/interop/onnx_folding.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "nn/error.hpp"

namespace kiln::io {
namespace {

const onnx::AttributeProto* attribute(const onnx::NodeProto& node, const char* name) {
  return onnx_attribute(node, name);
}

std::int64_t int_attr(const onnx::NodeProto& node, const char* name, std::int64_t fallback) {
  return onnx_int_attribute(node, name, fallback);
}

// An axis in [0, rank), from a possibly negative one.
std::int64_t axis_in(std::int64_t axis, std::int64_t rank) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw Error("axis " + std::to_string(axis) + " is outside a rank of " + std::to_string(rank));
  }
  return a;
}

// The axes of Squeeze/Unsqueeze: the attribute (opset < 13) or the second input.
std::vector<std::int64_t> axes_of(const onnx::NodeProto& node,
                                  const std::vector<const OnnxConstant*>& inputs) {
  if (const auto* a = attribute(node, "axes")) return {a->ints().begin(), a->ints().end()};
  if (inputs.size() > 1 && inputs[1] != nullptr) return inputs[1]->integers;
  return {};
}

// A copy of `c` with new dims (same values, same order).
OnnxConstant with_dims(const OnnxConstant& c, std::vector<std::int64_t> dims) {
  OnnxConstant out = c;
  out.dims = std::move(dims);
  return out;
}

// Gathers whole slices of `c` along `axis`: out[..., k, ...] = c[..., index[k], ...].
OnnxConstant gather(const OnnxConstant& c, std::int64_t axis, const OnnxConstant& index) {
  const std::int64_t rank = static_cast<std::int64_t>(c.dims.size());
  axis = axis_in(axis, rank);
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= c.dims[static_cast<std::size_t>(d)];
  for (std::int64_t d = axis + 1; d < rank; ++d) inner *= c.dims[static_cast<std::size_t>(d)];
  const std::int64_t extent = c.dims[static_cast<std::size_t>(axis)];
  OnnxConstant out;
  out.dims.assign(c.dims.begin(), c.dims.begin() + axis);
  out.dims.insert(out.dims.end(), index.dims.begin(), index.dims.end());
  out.dims.insert(out.dims.end(), c.dims.begin() + axis + 1, c.dims.end());
  const bool integers = !c.integers.empty();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t raw : index.integers) {
      const std::int64_t k = raw < 0 ? raw + extent : raw;
      if (k < 0 || k >= extent) throw Error("index " + std::to_string(raw) + " is out of range");
      for (std::int64_t i = 0; i < inner; ++i) {
        const auto at = static_cast<std::size_t>((o * extent + k) * inner + i);
        out.values.push_back(c.values[at]);
        if (integers) out.integers.push_back(c.integers[at]);
      }
    }
  }
  return out;
}

OnnxConstant concat(const std::vector<const OnnxConstant*>& parts, std::int64_t axis) {
  const OnnxConstant& first = *parts.at(0);
  const std::int64_t rank = static_cast<std::int64_t>(first.dims.size());
  axis = axis_in(axis, rank);
  std::int64_t outer = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= first.dims[static_cast<std::size_t>(d)];
  OnnxConstant out;
  out.dims = first.dims;
  out.dims[static_cast<std::size_t>(axis)] = 0;
  const bool integers = std::all_of(parts.begin(), parts.end(),
                                    [](const OnnxConstant* p) { return !p->integers.empty(); });
  for (const OnnxConstant* p : parts) {
    if (p->dims.size() != first.dims.size()) throw Error("inputs of different ranks");
    out.dims[static_cast<std::size_t>(axis)] += p->dims[static_cast<std::size_t>(axis)];
  }
  for (std::int64_t o = 0; o < outer; ++o) {
    for (const OnnxConstant* p : parts) {
      const std::int64_t block = p->count() / std::max<std::int64_t>(outer, 1);
      const auto from = static_cast<std::ptrdiff_t>(o * block);
      out.values.insert(out.values.end(), p->values.begin() + from,
                        p->values.begin() + from + block);
      if (integers) {
        out.integers.insert(out.integers.end(), p->integers.begin() + from,
                            p->integers.begin() + from + block);
      }
    }
  }
  return out;
}

OnnxConstant transpose(const OnnxConstant& c, std::vector<std::int64_t> perm) {
  const std::size_t rank = c.dims.size();
  if (perm.empty()) {
    perm.resize(rank);
    std::iota(perm.rbegin(), perm.rend(), 0);
  }
  if (perm.size() != rank) throw Error("a permutation of another rank than the tensor's");
  OnnxConstant out;
  for (const std::int64_t p : perm) out.dims.push_back(c.dims.at(static_cast<std::size_t>(p)));
  std::vector<std::int64_t> strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * c.dims[d];
  const bool integers = !c.integers.empty();
  std::vector<std::int64_t> at(rank, 0);  // the output position, odometer style
  for (std::int64_t n = 0; n < c.count(); ++n) {
    std::int64_t from = 0;
    for (std::size_t d = 0; d < rank; ++d)
      from += at[d] * strides[static_cast<std::size_t>(perm[d])];
    out.values.push_back(c.values[static_cast<std::size_t>(from)]);
    if (integers) out.integers.push_back(c.integers[static_cast<std::size_t>(from)]);
    for (std::size_t d = rank; d-- > 0;) {
      if (++at[d] < out.dims[d]) break;
      at[d] = 0;
    }
  }
  return out;
}

// Reshape's target: 0 copies the input's dim, −1 takes what is left.
std::vector<std::int64_t> reshaped(const OnnxConstant& c, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> dims;
  std::int64_t known = 1, unknown = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    std::int64_t d = shape[i];
    if (d == 0) d = c.dims.at(i);
    if (d == -1) {
      unknown = static_cast<std::int64_t>(i);
    } else {
      known *= d;
    }
    dims.push_back(d);
  }
  if (unknown >= 0)
    dims[static_cast<std::size_t>(unknown)] = c.count() / std::max<std::int64_t>(known, 1);
  if (std::accumulate(dims.begin(), dims.end(), std::int64_t{1}, std::multiplies<>()) != c.count())
    throw Error("cannot reshape " + std::to_string(c.count()) + " values to that shape");
  return dims;
}

// Add, Sub, Mul or Div of two constants of one size, or of one and a single value (shape
// arithmetic: PyTorch computes a channel shuffle's group size so). Integers stay integers, and
// their Div truncates, as ONNX's.
OnnxConstant arithmetic(const std::string& op, const OnnxConstant& a, const OnnxConstant& b) {
  const bool same = a.count() == b.count();
  if (!same && a.count() != 1 && b.count() != 1) {
    throw Error(op + " of constants of " + std::to_string(a.count()) + " and " +
                std::to_string(b.count()) + " values: kiln broadcasts one value only");
  }
  const bool integers = !a.integers.empty() && !b.integers.empty();
  OnnxConstant out = (same ? a.dims.size() >= b.dims.size() : a.count() > 1) ? a : b;
  const std::int64_t count = out.count();
  for (std::int64_t i = 0; i < count; ++i) {
    const auto at = [&](const OnnxConstant& c) {
      return static_cast<std::size_t>(c.count() == 1 ? 0 : i);
    };
    if (integers) {
      const std::int64_t x = a.integers[at(a)], y = b.integers[at(b)];
      if (op == "Div" && y == 0) throw Error("Div of integers by zero");
      const std::int64_t r = op == "Add"   ? x + y
                             : op == "Sub" ? x - y
                             : op == "Mul" ? x * y
                                           : x / y;
      out.integers[static_cast<std::size_t>(i)] = r;
      out.values[static_cast<std::size_t>(i)] = static_cast<float>(r);
    } else {
      const float x = a.values[at(a)], y = b.values[at(b)];
      out.values[static_cast<std::size_t>(i)] = op == "Add"   ? x + y
                                                : op == "Sub" ? x - y
                                                : op == "Mul" ? x * y
                                                              : x / y;
    }
  }
  if (!integers) out.integers.clear();
  return out;
}

}  // namespace

const onnx::AttributeProto* onnx_attribute(const onnx::NodeProto& node, const char* name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

std::int64_t onnx_int_attribute(const onnx::NodeProto& node, const char* name,
                                std::int64_t fallback) {
  const auto* a = onnx_attribute(node, name);
  return a ? a->i() : fallback;
}

std::int64_t OnnxConstant::count() const {
  return std::accumulate(dims.begin(), dims.end(), std::int64_t{1}, std::multiplies<>());
}

// The bytes of a tensor kept outside the model (ONNX's external data: `location` relative to the
// model's folder, `offset` and `length` in bytes; what torch.onnx.export writes past protobuf's
// 2 GB).
static std::string external_bytes(const onnx::TensorProto& t, const std::string& where) {
  std::string location;
  std::int64_t offset = 0, length = -1;
  for (const auto& entry : t.external_data()) {
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") offset = std::stoll(entry.value());
    if (entry.key() == "length") length = std::stoll(entry.value());
  }
  const std::filesystem::path relative(location);
  const bool inside = !location.empty() && relative.is_relative() &&
                      std::find(relative.begin(), relative.end(), "..") == relative.end();
  if (!inside) {
    throw Error(where + ": tensor '" + t.name() + "' names its external data file '" + location +
                "'; it must be a path inside the model's folder");
  }
  const std::filesystem::path file = std::filesystem::path(where).parent_path() / relative;
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) {
    throw Error(where + ": tensor '" + t.name() + "': cannot read its external data file " +
                file.string() + "; keep it next to the model");
  }
  const std::int64_t size = static_cast<std::int64_t>(in.tellg());
  if (length < 0) length = size - offset;
  if (offset < 0 || offset + length > size) {
    throw Error(where + ": tensor '" + t.name() + "': bytes " + std::to_string(offset) + " to " +
                std::to_string(offset + length) + " lie outside " + file.string() + " (" +
                std::to_string(size) + " bytes)");
  }
  std::string bytes(static_cast<std::size_t>(length), '\0');
  in.seekg(offset);
  in.read(bytes.data(), length);
  return bytes;
}

OnnxConstant read_onnx_tensor(const onnx::TensorProto& t, const std::string& where) {
  OnnxConstant c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  const bool external = t.data_location() == onnx::TensorProto::EXTERNAL;
  const std::string external_raw = external ? external_bytes(t, where) : std::string();
  const std::string& raw = external ? external_raw : t.raw_data();
  const auto from_raw = [&](auto sample, auto& out) {
    std::vector<decltype(sample)> v(raw.size() / sizeof(sample));
    std::memcpy(v.data(), raw.data(), v.size() * sizeof(sample));
    out.assign(v.begin(), v.end());
  };
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    if (!raw.empty()) {
      from_raw(float{}, c.values);
    } else {
      c.values.assign(t.float_data().begin(), t.float_data().end());
    }
  } else if (t.data_type() == onnx::TensorProto::INT64 ||
             t.data_type() == onnx::TensorProto::INT32) {
    if (!raw.empty() && t.data_type() == onnx::TensorProto::INT64) {
      from_raw(std::int64_t{}, c.integers);
    } else if (!raw.empty()) {
      from_raw(std::int32_t{}, c.integers);
    } else if (t.data_type() == onnx::TensorProto::INT64) {
      c.integers.assign(t.int64_data().begin(), t.int64_data().end());
    } else {
      c.integers.assign(t.int32_data().begin(), t.int32_data().end());
    }
    c.values.assign(c.integers.begin(), c.integers.end());
  } else {
    throw Error(where + ": tensor '" + t.name() + "' has data type " +
                std::to_string(t.data_type()) + "; kiln reads float32 weights and integer shapes");
  }
  if (static_cast<std::int64_t>(c.values.size()) != c.count()) {
    throw Error(where + ": tensor '" + t.name() + "' holds " + std::to_string(c.values.size()) +
                " values for " + std::to_string(c.count()) + " elements");
  }
  return c;
}

std::optional<OnnxConstant> fold_onnx_node(const onnx::NodeProto& node,
                                           const std::vector<const OnnxConstant*>& inputs) {
  const std::string& op = node.op_type();
  if (inputs.empty() || inputs[0] == nullptr) return std::nullopt;
  const OnnxConstant& x = *inputs[0];
  if (op == "Identity") return x;
  if (op == "Shape") {
    OnnxConstant out;
    out.dims = {static_cast<std::int64_t>(x.dims.size())};
    out.integers = x.dims;
    out.values.assign(x.dims.begin(), x.dims.end());
    return out;
  }
  if (op == "Cast") {
    const std::int64_t to = int_attr(node, "to", onnx::TensorProto::FLOAT);
    OnnxConstant out = x;
    if (to == onnx::TensorProto::FLOAT) {
      out.integers.clear();
    } else if (to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32) {
      out.integers.assign(x.values.begin(), x.values.end());
      out.values.assign(out.integers.begin(), out.integers.end());
    } else {
      throw Error("Cast to type " + std::to_string(to) + " is not supported");
    }
    return out;
  }
  if (op == "Reshape") {
    if (inputs.size() < 2 || inputs[1] == nullptr) return std::nullopt;
    return with_dims(x, reshaped(x, inputs[1]->integers));
  }
  if (op == "Flatten") {
    const std::int64_t axis = int_attr(node, "axis", 1);
    std::int64_t outer = 1;
    for (std::int64_t d = 0; d < axis; ++d) outer *= x.dims.at(static_cast<std::size_t>(d));
    return with_dims(x, {outer, x.count() / std::max<std::int64_t>(outer, 1)});
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    std::vector<std::int64_t> axes = axes_of(node, inputs);
    std::vector<std::int64_t> dims = x.dims;
    if (op == "Squeeze") {
      const auto rank = static_cast<std::int64_t>(dims.size());
      std::vector<bool> drop(dims.size(), axes.empty());
      for (const std::int64_t a : axes) drop[static_cast<std::size_t>(axis_in(a, rank))] = true;
      std::vector<std::int64_t> kept;
      for (std::size_t d = 0; d < dims.size(); ++d)
        if (!(drop[d] && dims[d] == 1)) kept.push_back(dims[d]);
      return with_dims(x, kept);
    }
    const auto rank = static_cast<std::int64_t>(dims.size() + axes.size());
    for (std::int64_t& a : axes) a = axis_in(a, rank);
    std::sort(axes.begin(), axes.end());
    for (const std::int64_t a : axes) dims.insert(dims.begin() + a, 1);
    return with_dims(x, dims);
  }
  if (op == "Transpose") {
    const auto* perm = attribute(node, "perm");
    return transpose(x, perm ? std::vector<std::int64_t>(perm->ints().begin(), perm->ints().end())
                             : std::vector<std::int64_t>{});
  }
  if (op == "Gather") {
    if (inputs.size() < 2 || inputs[1] == nullptr) return std::nullopt;
    return gather(x, int_attr(node, "axis", 0), *inputs[1]);
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (inputs.size() != 2 || inputs[1] == nullptr) return std::nullopt;
    return arithmetic(op, x, *inputs[1]);
  }
  if (op == "Concat") {
    if (std::any_of(inputs.begin(), inputs.end(), [](auto* p) { return p == nullptr; }))
      return std::nullopt;
    return concat(inputs, int_attr(node, "axis", 0));
  }
  return std::nullopt;
}

}  // namespace kiln::io
