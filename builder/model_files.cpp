#include "model_files.h"

#include <unistd.h>

#include "bundle_io.h"
#include "error.h"
#include "sha256.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {
fs::path exe_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return fs::current_path();
  buf[n] = 0;
  return fs::path(buf).parent_path();
}
}  // namespace

ModelFiles resolve_model(const std::string& card_path, const std::string& onnx_path) {
  ModelFiles m;
  // build/native/bin/nftlens -> repo root is three levels up.
  const fs::path root = exe_dir() / ".." / ".." / "..";
  fs::path card = card_path.empty() ? root / "models" / "mnv2-b13-576.card.json" : fs::path(card_path);
  if (const char* env = std::getenv("NFTLENS_MODEL_CARD"); card_path.empty() && env && *env) card = env;
  if (!fs::exists(card)) throw Error(card.string() + ": model card not found (pass --model CARD.json)");
  const auto text = read_bytes(card, 1 << 20);
  m.card = parse_model_card(std::string(text.begin(), text.end()), card.string());
  if (!onnx_path.empty()) {
    m.onnx = onnx_path;
  } else {
    for (const fs::path& p : {card.parent_path() / m.card.file, root / "build" / "models" / m.card.file})
      if (fs::exists(p)) { m.onnx = p; break; }
    if (m.onnx.empty()) throw Error(m.card.file + ": model file not found next to " + card.string() + " or in build/models (run scripts/make-model)");
  }
  if (!m.card.sha256.empty()) {
    const auto bytes = read_bytes(m.onnx);
    const std::string got = sha256_hex(bytes.data(), bytes.size());
    if (got != m.card.sha256) throw Error(m.onnx.string() + ": SHA-256 " + got + " does not match the model card (" + m.card.sha256 + ")");
  }
  return m;
}

}  // namespace nftlens
