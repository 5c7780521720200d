// Progress for long builds: a redrawn bar with rate and ETA on a terminal, plain lines otherwise.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace nftlens {

class Progress {
 public:
  Progress(std::string label, size_t total, bool quiet)
      : label_(std::move(label)), total_(total), quiet_(quiet), tty_(::isatty(2)), start_(clock::now()), last_(start_) {}
  void update(size_t done) {
    if (quiet_) return;
    const auto now = clock::now();
    if (done < total_ && now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5))) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? done / secs : 0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    if (done >= total_ && secs < 1.0) {  // (done at once, e.g. from the feature cache: a rate would mean nothing)
      std::fprintf(stderr, "%s%s: %zu/%zu in %.2fs%s\n", tty_ ? "\r" : "", label_.c_str(), done, total_, secs, tty_ ? "\033[K" : "");
      return;
    }
    if (tty_) {
      const int width = 30, fill = total_ ? int(width * double(done) / total_) : width;
      std::fprintf(stderr, "\r%-10s [%.*s%*s] %zu/%zu %6.1f/s ETA %4.0fs", label_.c_str(), fill,
                   "##############################", width - fill, "", done, total_, rate, eta);
      if (done >= total_) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "%s: %zu/%zu (%.1f/s, ETA %.0fs)\n", label_.c_str(), done, total_, rate, eta);
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  size_t total_;
  bool quiet_, tty_;
  clock::time_point start_, last_;
};

}  // namespace nftlens
