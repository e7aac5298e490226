// UploadBudget: how many bytes of request bodies the server holds at once.
//
// A request reserves its body's size before the body is read (its declared
// Content-Length, or as a chunked body grows) and gives it back when it has
// been answered. Large bodies (webcam snapshots) share `budget`; a small body
// (up to `small_body`, every JSON webhook) may also use a further
// `small_headroom` that large ones never touch, so a printer's small webhook
// never waits behind big uploads. Thread-safe (one atomic counter).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pm {

struct UploadLimits {
  size_t budget = 32 << 20;         // large bodies in flight at once
  size_t small_body = 64 << 10;     // a body up to this is small
  size_t small_headroom = 8 << 20;  // room only small bodies may use
};

class UploadBudget {
 public:
  explicit UploadBudget(UploadLimits limits) : limits_(limits) {}

  // Reserves `bytes` for a body that will total `body_size` bytes; false
  // (nothing reserved) when that would pass the limit for its size.
  bool TryReserve(size_t bytes, size_t body_size);
  void Release(size_t bytes);

  size_t in_flight() const { return in_flight_; }
  // The most ever held at once, and how many reservations were refused.
  size_t peak() const { return peak_; }
  uint64_t refused() const { return refused_; }
  const UploadLimits& limits() const { return limits_; }

 private:
  const UploadLimits limits_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> refused_{0};
};

// A reservation held for one request; gives it back when destroyed.
class UploadLease {
 public:
  explicit UploadLease(UploadBudget& budget) : budget_(budget) {}
  ~UploadLease() { Reset(); }
  UploadLease(const UploadLease&) = delete;
  UploadLease& operator=(const UploadLease&) = delete;

  // Grows the reservation to `total` bytes of a body of `body_size`; false
  // when the budget has no room (what was held stays held).
  bool GrowTo(size_t total, size_t body_size);
  void Reset();
  size_t held() const { return held_; }

 private:
  UploadBudget& budget_;
  size_t held_ = 0;
};

}  // namespace pm
