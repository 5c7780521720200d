#include "embedder.h"

#include <onnxruntime_cxx_api.h>

#include <pthread.h>

#include <algorithm>
#include <iostream>

#include "error.h"

namespace nftlens {

struct Embedder::Impl {
  std::unique_ptr<Ort::Env> env;  // (created with the session, on the big-stack thread below)
  Ort::SessionOptions options;
  std::unique_ptr<Ort::Session> session;
};

Embedder::Embedder(const std::string& model_path, const ModelCard& card, const EmbedderOptions& opt)
    : impl_(std::make_unique<Impl>()), card_(card) {
  auto& so = impl_->options;
  if (opt.threads > 0) so.SetIntraOpNumThreads(opt.threads);
  if (!opt.allow_spinning) so.AddConfigEntry("session.intra_op.allow_spinning", "0");
  so.SetInterOpNumThreads(1);
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  if (opt.try_cuda) {
    const auto providers = Ort::GetAvailableProviders();
    if (std::find(providers.begin(), providers.end(), "CUDAExecutionProvider") != providers.end()) {
      try {
        OrtCUDAProviderOptions cuda{};
        so.AppendExecutionProvider_CUDA(cuda);
        provider_ = "cuda";
      } catch (const Ort::Exception& e) {
        std::cerr << "note: CUDA execution provider unavailable (" << e.what() << "); using CPU\n";
      }
    }  // (no CUDA in this ONNX Runtime build: CPU, silently; the usual case, not worth a note per build)
  }
  // ONNX Runtime's session setup logs process information: it reads /proc/self/cmdline and runs a
  // std::regex over it, which recurses once per character. Thousands of image paths on the command
  // line (`nftlens query BUNDLE *.png`) overflowed the 8 MB main stack. So the session is created
  // on a thread with room for that (its stack is only reserved address space until touched).
  std::string failure;
  {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, size_t(1) << 30);
    struct Job { Impl* impl; const std::string* path; Ort::SessionOptions* so; std::string* failure; } job{impl_.get(), &model_path, &so, &failure};
    pthread_t th;
    auto body = [](void* p) -> void* {
      auto* j = static_cast<Job*>(p);
      try {
        if (!j->impl->env) j->impl->env = std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_ERROR, "nftlens");
        j->impl->session = std::make_unique<Ort::Session>(*j->impl->env, j->path->c_str(), *j->so);
      } catch (const std::exception& e) {
        *j->failure = e.what();
        if (j->failure->empty()) *j->failure = "unknown error";
      }
      return nullptr;
    };
    if (pthread_create(&th, &attr, body, &job) != 0) body(&job);  // (no thread: try in place)
    else pthread_join(th, nullptr);
    pthread_attr_destroy(&attr);
  }
  if (!impl_->session) throw Error(model_path + ": ONNX Runtime cannot load the model (" + failure + ")");
  // Check the card against the graph, so a wrong card fails here with names, not later with sizes.
  Ort::AllocatorWithDefaultOptions alloc;
  bool found = false;
  for (size_t i = 0; i < impl_->session->GetInputCount(); ++i)
    found |= impl_->session->GetInputNameAllocated(i, alloc).get() == card.input_name;
  if (!found) throw Error(model_path + ": model has no input named \"" + card.input_name + "\" (from the model card)");
  for (auto& o : card.outputs) {
    bool ok = false;
    for (size_t i = 0; i < impl_->session->GetOutputCount(); ++i) ok |= impl_->session->GetOutputNameAllocated(i, alloc).get() == o.name;
    if (!ok) throw Error(model_path + ": model has no output named \"" + o.name + "\" (from the model card)");
  }
}

Embedder::~Embedder() = default;

std::vector<std::vector<float>> Embedder::run(const std::vector<std::vector<float>>& inputs, std::vector<std::vector<float>>* parts) {
  std::vector<std::vector<float>> out;
  if (inputs.empty()) return out;
  const size_t per = size_t(card_.width) * card_.height * 3;
  std::vector<float> batch;
  batch.reserve(per * inputs.size());
  for (auto& t : inputs) {
    if (t.size() != per) throw Error("model input has the wrong size");
    batch.insert(batch.end(), t.begin(), t.end());
  }
  const int64_t n = int64_t(inputs.size());
  std::vector<int64_t> shape = card_.layout == "NHWC" ? std::vector<int64_t>{n, card_.height, card_.width, 3}
                                                      : std::vector<int64_t>{n, 3, card_.height, card_.width};
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  Ort::Value in = Ort::Value::CreateTensor<float>(mem, batch.data(), batch.size(), shape.data(), shape.size());
  const char* in_names[] = {card_.input_name.c_str()};
  std::vector<const char*> out_names;
  for (auto& o : card_.outputs) out_names.push_back(o.name.c_str());
  std::vector<Ort::Value> res;
  try {
    res = impl_->session->Run(Ort::RunOptions{nullptr}, in_names, &in, 1, out_names.data(), out_names.size());
  } catch (const Ort::Exception& e) {
    throw Error(std::string("ONNX Runtime inference failed: ") + e.what());
  }
  std::vector<size_t> per_image(res.size());
  for (size_t k = 0; k < res.size(); ++k) {
    const size_t total = res[k].GetTensorTypeAndShapeInfo().GetElementCount();
    if (total % size_t(n) != 0) throw Error("model output \"" + card_.outputs[k].name + "\" does not split into the batch");
    per_image[k] = total / size_t(n);
  }
  for (int64_t b = 0; b < n; ++b) {
    std::vector<const float*> ptrs;
    for (size_t k = 0; k < res.size(); ++k) ptrs.push_back(res[k].GetTensorData<float>() + size_t(b) * per_image[k]);
    out.push_back(pool_outputs(card_, ptrs, per_image));
    if (parts && card_.part_channels() > 0) parts->push_back(pool_parts(card_, ptrs, per_image));
  }
  return out;
}

}  // namespace nftlens
