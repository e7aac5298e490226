// Progress: what `printmeter import` and `rebuild` show on stderr while they
// work. On a terminal, a bar redrawn in place; otherwise (a log, a pipe) a
// line every few seconds, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
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

}  // namespace pm
