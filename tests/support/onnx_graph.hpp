// Hand-built ONNX graphs for the importer's tests, and OpenCV's dnn as the independent runtime
// that checks them.
#pragma once

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "io/interop/onnx_import.hpp"
#include "nn/loss.hpp"
#include "nn/random.hpp"

namespace kiln::io {

// An ONNX graph written node by node, weights drawn from a fixed seed.
class OnnxGraph {
 public:
  OnnxGraph(std::vector<std::int64_t> input_dims) {
    model_.set_ir_version(onnx::IR_VERSION);
    model_.add_opset_import()->set_version(13);
    auto* in = model_.mutable_graph()->add_input();
    in->set_name("x");
    auto* t = in->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (const auto d : input_dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }

  std::string weight(const std::string& name, const std::vector<std::int64_t>& dims,
                     float low = -0.5f, float high = 0.5f) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t count = 1;
    for (const auto d : dims) {
      t->add_dims(d);
      count *= d;
    }
    for (std::int64_t i = 0; i < count; ++i) t->add_float_data(rng_.uniform(low, high));
    return name;
  }
  std::string shape(const std::string& name, const std::vector<std::int64_t>& values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(values.size()));
    for (const auto v : values) t->add_int64_data(v);
    return name;
  }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output) {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name("/" + output + "/" + op);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(output);
    return *n;
  }
  // Moves initializer `name` out of the model, as torch.onnx.export does past 2 GB: its floats
  // written to `folder`/`location` from byte `offset` on (zeros before, from the file's end).
  void move_to_external_data(const std::string& name, const std::string& folder,
                             const std::string& location, std::int64_t offset) {
    for (auto& t : *model_.mutable_graph()->mutable_initializer()) {
      if (t.name() != name) continue;
      const std::string file = folder + "/" + location;
      const auto size = std::filesystem::exists(file)
                            ? static_cast<std::int64_t>(std::filesystem::file_size(file))
                            : std::int64_t{0};
      std::ofstream out(file, std::ios::binary | std::ios::app);
      const std::string padding(static_cast<std::size_t>(offset - size), '\0');
      out.write(padding.data(), static_cast<std::streamsize>(padding.size()));
      out.write(reinterpret_cast<const char*>(t.float_data().data()),
                static_cast<std::streamsize>(t.float_data_size() * sizeof(float)));
      const auto add = [&](const char* key, const std::string& value) {
        auto* entry = t.add_external_data();
        entry->set_key(key);
        entry->set_value(value);
      };
      add("location", location);
      add("offset", std::to_string(offset));
      add("length", std::to_string(t.float_data_size() * sizeof(float)));
      t.clear_float_data();
      t.set_data_location(onnx::TensorProto::EXTERNAL);
    }
  }

  std::vector<float> values(const std::string& name) const {
    for (const auto& t : model_.graph().initializer()) {
      if (t.name() == name) return {t.float_data().begin(), t.float_data().end()};
    }
    return {};
  }
  static void ints(onnx::NodeProto& n, const char* key, const std::vector<std::int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    for (const auto x : v) a->add_ints(x);
  }
  static void integer(onnx::NodeProto& n, const char* key, std::int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void real(onnx::NodeProto& n, const char* key, float v) {
    auto* a = n.add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }

  std::string save(const std::string& path, const std::string& output) {
    auto* result = model_.mutable_graph()->add_output();
    result->set_name(output);
    auto* type = result->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    type->mutable_shape()->add_dim()->set_dim_param("N");  // OpenCV wants a shape
    type->mutable_shape()->add_dim()->set_dim_param("K");
    std::ofstream out(path, std::ios::binary);
    model_.SerializeToOstream(&out);
    return path;
  }

 private:
  onnx::ModelProto model_;
  nn::Rng rng_{{7, 7, 7, 7}};
};

inline std::vector<float> softmax_rows(const nn::Tensor& logits) {
  nn::Tensor p;
  const std::vector<std::int32_t> labels(static_cast<std::size_t>(logits.shape().n), 0);
  nn::SoftmaxCrossEntropy::compute(logits, labels, nullptr, &p);
  return {p.span().begin(), p.span().end()};
}

// The ONNX file run by OpenCV and by kiln (imported) on the same random input.
inline void expect_opencv_agrees(const std::string& path, const std::vector<int>& dims,
                                 OnnxImportOptions options = {}, bool reverse_channels = false) {
  cv::Mat blob(4, dims.data(), CV_32F);
  nn::Rng rng({1, 2, 3, 4});
  for (std::size_t i = 0; i < blob.total(); ++i) blob.ptr<float>()[i] = rng.uniform(-1.f, 1.f);
  cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
  net.setInput(blob);
  const cv::Mat expected = net.forward();

  nn::Model model = import_onnx(path, options);
  nn::Tensor x({dims[0], dims[1], dims[2], dims[3]});
  const std::int64_t plane = x.shape().h * x.shape().w;
  for (std::int64_t i = 0; i < x.size(); ++i) {  // kiln takes RGB where the network took BGR
    const std::int64_t c = (i / plane) % dims[1];
    const std::int64_t from = reverse_channels ? i + (dims[1] - 1 - 2 * c) * plane : i;
    x[i] = blob.ptr<float>()[from];
  }
  const std::vector<float> got = softmax_rows(model.forward(x, {}));
  ASSERT_EQ(got.size(), expected.total());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], expected.ptr<float>()[i], 2e-6) << "output " << i;
  }
}

}  // namespace kiln::io
