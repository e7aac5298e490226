#include "ingest/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace pm {

namespace {
constexpr auto kTtyEvery = std::chrono::milliseconds(100);
constexpr auto kLogEvery = std::chrono::seconds(5);
constexpr int kBarWidth = 30;
}  // namespace

Progress::Progress(std::string label, int64_t total, std::FILE* out)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::Update(int64_t done) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < (tty_ ? kTtyEvery : kLogEvery)) return;
  last_draw_ = now;
  Draw(false);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

void Progress::Draw(bool final) {
  std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - start_;
  double rate = elapsed.count() > 0 ? done_ / elapsed.count() : 0;
  std::string line;
  if (total_ > 0) {
    double fraction =
        std::clamp(static_cast<double>(done_) / total_, 0.0, 1.0);
    int filled = static_cast<int>(fraction * kBarWidth);
    std::string bar = tty_ ? fmt::format("[{}{}] ", std::string(filled, '#'),
                                         std::string(kBarWidth - filled, '.'))
                           : "";
    line = fmt::format("{}: {}{:3.0f}% {}/{} ({:.0f}/s)", label_, bar,
                       fraction * 100, done_, total_, rate);
  } else {
    line = fmt::format("{}: {} ({:.0f}/s)", label_, done_, rate);
  }
  if (tty_) {
    fmt::print(out_, "\r{}\x1b[K{}", line, final ? "\n" : "");
  } else {
    fmt::print(out_, "{}\n", line);
  }
  std::fflush(out_);
}

PhasedProgress::PhasedProgress(
    std::map<std::string, std::string, std::less<>> labels, int64_t total,
    std::FILE* out)
    : labels_(std::move(labels)), total_(total), out_(out) {}

void PhasedProgress::Update(const char* phase, int64_t done) {
  if (!bar_ || phase_ != phase) {
    Finish();
    phase_ = phase;
    auto label = labels_.find(phase_);
    bar_.emplace(label != labels_.end() ? label->second : phase_, total_,
                 out_);
  }
  bar_->Update(done);
}

void PhasedProgress::Finish() {
  if (bar_) bar_->Finish();
  bar_.reset();
}

}  // namespace pm
