#include "http/event_hub.h"

#include <algorithm>

namespace pm {

EventHub::Subscription::Subscription(EventHub& hub,
                                     std::shared_ptr<Channel> channel)
    : hub_(hub), channel_(std::move(channel)) {}

EventHub::Subscription::~Subscription() { hub_.Remove(channel_.get()); }

EventHub::EventHub(size_t max_streams) : max_streams_(max_streams) {}

std::unique_ptr<EventHub::Subscription> EventHub::Subscribe(
    const boost::asio::any_io_executor& executor) {
  auto channel = std::make_shared<Channel>(executor, kQueued);
  std::lock_guard lock(mutex_);
  if (closed_ || channels_.size() >= max_streams_) return nullptr;
  channels_.push_back(channel);
  return std::make_unique<Subscription>(*this, std::move(channel));
}

void EventHub::Publish(const std::string& event) {
  std::lock_guard lock(mutex_);
  for (auto& channel : channels_) {
    channel->try_send(boost::system::error_code(), event);
  }
}

void EventHub::Close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& channel : channels_) channel->close();
}

size_t EventHub::size() const {
  std::lock_guard lock(mutex_);
  return channels_.size();
}

void EventHub::Remove(const Channel* channel) {
  std::lock_guard lock(mutex_);
  std::erase_if(channels_, [&](const auto& c) { return c.get() == channel; });
}

std::string ServerSentEvent(std::string_view name, std::string_view json) {
  std::string out = "event: ";
  out.append(name).append("\ndata: ").append(json).append("\n\n");
  return out;
}

}  // namespace pm
