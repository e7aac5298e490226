// ConnectionTable: who holds the server's connections, and whom to close
// when a new one needs a slot (ledger.md section 2, "Connections are a
// printer's").
//
// Every accepted connection is admitted here. Over a cap (in total, or for
// one client address) the table picks connections to close so that the new
// one is served: first the idle ones (keep-alive, or connected without
// having sent a byte), the one idle longest first; then the slowest
// unfinished requests (lowest bytes per second since the request's first
// byte). A connection whose request is complete and being handled, or whose
// answer is being written, is never picked: its client is about to be
// answered. Admit fails only when every slot is such a request; the server
// then lets the newcomer wait a moment (ServerOptions::admit_wait) and asks
// again, since those answers take milliseconds.
//
// Thread-safe: Admit/Remove/EvictOne take a mutex; each connection updates
// its own Activity (atomics) without one.
#pragma once

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace pm {

using SteadyTime = std::chrono::steady_clock::time_point;

// Where a connection is in its request cycle.
enum class Phase : uint8_t {
  kIdle,      // waiting for the first byte of a request
  kHeaders,   // reading a request's headers
  kBody,      // reading its body
  kHandling,  // the request is whole (or waits for upload room): answering
  kWriting,   // writing the answer
};

// What one connection is doing, as seen by the table. Written by the
// connection's own strand, read under the table's mutex.
struct Activity {
  std::atomic<Phase> phase{Phase::kIdle};
  // Since when it is in kIdle, or since the first byte of the request.
  std::atomic<int64_t> since_ns{0};
  std::atomic<uint64_t> request_bytes{0};  // received of this request

  void Enter(Phase p, SteadyTime now);
  void Received(size_t n) { request_bytes += n; }
};

// A snapshot of one connection for the pure victim choice.
struct ActivityView {
  Phase phase = Phase::kIdle;
  SteadyTime since;
  uint64_t request_bytes = 0;
};

// Index of the connection to close first among `candidates` (see the file
// comment), or nullopt when none may be closed.
std::optional<size_t> PickVictim(std::span<const ActivityView> candidates,
                                 SteadyTime now);

struct ConnectionLimits {
  size_t max_total = 1024;
  size_t max_per_client = 256;
};

class ConnectionTable {
 public:
  // One admitted connection. `close` is called (once, without the table's
  // lock) when the table evicts it; it must only post the close to the
  // connection's own executor.
  struct Entry {
    boost::asio::ip::address peer;
    Activity activity;
    std::function<void()> close;
  };

  explicit ConnectionTable(ConnectionLimits limits) : limits_(limits) {}

  // Admits `entry`, evicting (and closing) what the caps require first.
  // False when no slot could be freed: the caller answers 503 and closes.
  bool Admit(const std::shared_ptr<Entry>& entry, SteadyTime now);
  // Forgets a connection that ended (a no-op when it was evicted).
  void Remove(const std::shared_ptr<Entry>& entry);
  // Closes the one connection PickVictim names among all (when the process
  // runs out of file descriptors). False when there was none.
  bool EvictOne(SteadyTime now);

  size_t size() const;
  // Connections closed to make room since the start.
  uint64_t evicted() const { return evicted_; }

 private:
  // Under mu_: removes and returns the victim among `pool`.
  std::shared_ptr<Entry> TakeVictim(
      const std::vector<std::shared_ptr<Entry>>& pool, SteadyTime now);
  void Erase(const std::shared_ptr<Entry>& entry);
  std::vector<std::shared_ptr<Entry>> OfPeer(
      const boost::asio::ip::address& peer) const;

  const ConnectionLimits limits_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Entry>> entries_;          // GUARDED_BY(mu_)
  std::map<boost::asio::ip::address, size_t> per_peer_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> evicted_{0};
};

}  // namespace pm
