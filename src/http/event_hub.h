// EventHub: the live dashboards' side of GET /api/v1/stream. The receiver
// publishes a server-sent event whenever it stored something that changes a
// printer or a session; every open stream gets it.
//
// Thread-safe: Publish is called from any I/O thread, each subscription is
// read by the coroutine that serves its connection. A stream that does not
// keep up (more than kQueued events waiting) misses events rather than
// holding memory; each event only tells the page to refresh, so the next one
// heals it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pm {

class EventHub {
 public:
  using Channel = boost::asio::experimental::concurrent_channel<void(
      boost::system::error_code, std::string)>;
  static constexpr size_t kQueued = 64;

  // One open stream. Unsubscribes when destroyed.
  class Subscription {
   public:
    Subscription(EventHub& hub, std::shared_ptr<Channel> channel);
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    // Yields the events in order; fails with a channel error once the hub
    // closed.
    Channel& channel() { return *channel_; }

   private:
    EventHub& hub_;
    std::shared_ptr<Channel> channel_;
  };

  // At most `max_streams` subscriptions at once.
  explicit EventHub(size_t max_streams);

  // A new subscription whose channel runs on `executor`; nullptr when
  // `max_streams` are open or the hub is closed.
  std::unique_ptr<Subscription> Subscribe(
      const boost::asio::any_io_executor& executor);

  // Queues `event` (a whole server-sent event, "event: …\ndata: …\n\n") for
  // every subscription. Never blocks.
  void Publish(const std::string& event);

  // Ends every stream (their channels fail) and refuses new ones.
  void Close();

  size_t size() const;

 private:
  void Remove(const Channel* channel);

  const size_t max_streams_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Channel>> channels_;  // GUARDED_BY(mutex_)
  bool closed_ = false;                             // GUARDED_BY(mutex_)
};

// A server-sent event named `name` whose data is `json` (one line).
std::string ServerSentEvent(std::string_view name, std::string_view json);

}  // namespace pm
