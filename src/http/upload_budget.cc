#include "http/upload_budget.h"

namespace pm {

bool UploadBudget::TryReserve(size_t bytes, size_t body_size) {
  size_t limit = limits_.budget;
  if (body_size <= limits_.small_body) limit += limits_.small_headroom;
  size_t now = in_flight_.load();
  do {
    if (now + bytes > limit) {
      ++refused_;
      return false;
    }
  } while (!in_flight_.compare_exchange_weak(now, now + bytes));
  size_t after = now + bytes, peak = peak_.load();
  while (after > peak && !peak_.compare_exchange_weak(peak, after)) {
  }
  return true;
}

void UploadBudget::Release(size_t bytes) { in_flight_ -= bytes; }

bool UploadLease::GrowTo(size_t total, size_t body_size) {
  if (total <= held_) return true;
  if (!budget_.TryReserve(total - held_, body_size)) return false;
  held_ = total;
  return true;
}

void UploadLease::Reset() {
  budget_.Release(held_);
  held_ = 0;
}

}  // namespace pm
