// The augment-list parser (--augment, the config's augment): every stage it builds then runs on a
// small image in training and in evaluation mode.
#include <opencv2/core.hpp>
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "nn/error.hpp"
#include "pipeline/transforms/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const kiln::Json list = kiln::Json::parse(text);
    auto stages = kiln::pipeline::make_stages(list);
    for (const auto mode : {kiln::nn::Mode::kTrain, kiln::nn::Mode::kEval}) {
      cv::Mat image(24, 20, CV_8UC3, cv::Scalar(10, 120, 240));
      for (auto& stage : stages) stage->run(image, mode, {7, 0, 3, 0});
    }
  } catch (const kiln::Json::exception&) {
  } catch (const kiln::Error&) {
  }
  return 0;
}
