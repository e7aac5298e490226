// Progress: what `printmeter import` and `rebuild` show on stderr while they
// work. On a terminal, a bar redrawn in place; otherwise (a log, a pipe) a
// line every few seconds, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace pm {

class Progress {
 public:
  // `total` 0: unknown (then only the count is shown).
  Progress(std::string label, int64_t total, std::FILE* out = stderr);
  // Reports `done` items so far; cheap to call for every item.
  void Update(int64_t done);
  // Shows the final count and ends the line.
  void Finish();

 private:
  void Draw(bool final);

  std::string label_;
  int64_t total_;
  std::FILE* out_;
  bool tty_;
  int64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool finished_ = false;
};

// Work in named phases (`rebuild`: reading, then folding), a Progress each,
// one after the other: a phase's first Update finishes the bar before it.
class PhasedProgress {
 public:
  // `labels`: each phase's name as the work reports it -> its bar's label;
  // a phase not listed shows under its own name. `total` as Progress's,
  // the same for every phase.
  PhasedProgress(std::map<std::string, std::string, std::less<>> labels,
                 int64_t total, std::FILE* out = stderr);
  void Update(const char* phase, int64_t done);
  // Finishes the current bar, if any.
  void Finish();

 private:
  std::map<std::string, std::string, std::less<>> labels_;
  int64_t total_;
  std::FILE* out_;
  std::string phase_;
  std::optional<Progress> bar_;
};

}  // namespace pm
