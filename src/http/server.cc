#include "http/server.h"

#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <future>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "common/thread_name.h"
#include "http/connection_table.h"
#include "http/event_hub.h"
#include "http/request_reader.h"
#include "http/static_files.h"
#include "http/status.h"
#include "http/upload_budget.h"

namespace pm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// How long a refused client gets to finish sending before we close.
constexpr auto kLingerTime = std::chrono::seconds(2);

namespace {


// What a handler answers.
struct Reply {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  Reply() = default;
  Reply(int s, std::string b, std::string type = "application/json",
        Headers h = {})
      : status(s), body(std::move(b)), content_type(std::move(type)),
        headers(std::move(h)) {}

  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  Headers headers;
  // Set for a server-sent event stream: `body` is its opening, and the
  // connection stays open for the subscription's events.
  std::shared_ptr<EventHub::Subscription> stream;
};

Reply JsonError(int status, std::string_view message) {
  boost::json::object o;
  o["error"] = message;
  return {status, boost::json::serialize(o) + "\n"};
}

Reply ErrorReply(const Error& error) {
  return JsonError(HttpStatus(error.code), error.message);
}

// The `result` label of a webhook rejection (api.h ReceiverMetrics).
std::string_view ResultName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalid: return "invalid";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kTooLarge:
    case ErrorCode::kHeaderTooLarge:
    case ErrorCode::kUriTooLong: return "too_large";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTooManyRequests: return "rate_limited";
    default: return "error";
  }
}

std::string_view PathOf(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// The receiver answers at `.../webhook` and `.../webhook/{device}` under any
// prefix (a reverse proxy's `/octoprint/webhook`, say).
bool IsWebhookPath(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t last = path.rfind('/');
  if (last == std::string_view::npos) return false;
  if (path.substr(last + 1) == "webhook") return true;
  std::string_view head = path.substr(0, last);
  size_t prev = head.rfind('/');
  return prev != std::string_view::npos && head.substr(prev + 1) == "webhook";
}

bool IsApiPath(std::string_view path) { return Api::Serves(path); }

bool AnyPath(std::string_view) { return true; }

std::string Mib(size_t bytes) {
  return fmt::format("{:g} MiB", static_cast<double>(bytes) / (1 << 20));
}

// Completes with the writer's verdict on the caller's executor.
template <typename Token>
auto AsyncIngest(IngestWriter& writer, IngestItem item, Token&& token) {
  return asio::async_initiate<Token, void(Result<Verdict>)>(
      [&writer](auto handler, IngestItem item) {
        auto ex = asio::get_associated_executor(handler);
        auto shared =
            std::make_shared<decltype(handler)>(std::move(handler));
        writer.Submit(std::move(item), [shared, ex](Result<Verdict> v) {
          asio::post(ex, [shared, v = std::move(v)]() mutable {
            (*shared)(std::move(v));
          });
        });
      },
      token, std::move(item));
}

}  // namespace

Status ParseListen(const std::string& listen, ServerOptions& options) {
  auto bad = [&](const char* why) {
    return Invalid(fmt::format("--listen {}: {}; write HOST:PORT, e.g. "
                               "0.0.0.0:8080 or 127.0.0.1:9000",
                               listen, why));
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  std::string host = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(),
                                 port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("the port is not a number from 0 to 65535");
  }
  options.host = host.empty() ? "0.0.0.0" : host;
  options.port = static_cast<uint16_t>(port);
  return {};
}

class Server::Impl {
 public:
  Impl(ServerOptions options, Store& store, IngestWriter& writer, Api* api,
       const Clock& clock)
      : options_(std::move(options)),
        store_(store),
        writer_(writer),
        api_(api),
        clock_(clock),
        table_({options_.max_connections, options_.max_connections_per_client}),
        budget_({options_.upload_budget, options_.small_body,
                 options_.small_headroom}),
        acceptor_(asio::make_strand(ioc_)),
        blocking_(2) {}

  ~Impl() { Stop(0); }

  Status Start();
  uint16_t port() const { return port_; }
  void Stop(TimeMs grace);

 private:
  // One request on its way through the route table.
  struct Exchange {
    HttpRequest& request;
    bool from_loopback = false;
  };
  using Handler = awaitable<Reply> (Impl::*)(Exchange&);
  struct Route {
    bool (*matches)(std::string_view path);
    Handler handle;
  };
  static const Route kRoutes[];

  // One accepted connection; the table may close it from another thread.
  struct Connection {
    explicit Connection(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    std::shared_ptr<ConnectionTable::Entry> entry;
    SteadyTime accepted;
  };

  awaitable<void> Accept();
  void Admit(tcp::socket socket);
  awaitable<void> Serve(std::shared_ptr<Connection> conn);
  awaitable<void> AdmitWhenFree(std::shared_ptr<Connection> conn);
  awaitable<void> AnswerBusy(std::shared_ptr<Connection> conn);
  http::response<http::string_body> Refusal(const ReadOutcome& read,
                                            const std::string& peer);
  void ReturnUploadMemory(size_t released);
  void RaiseFileLimit();
  awaitable<void> DrainRefused(beast::tcp_stream& stream);
  awaitable<Reply> Dispatch(Exchange& x);
  awaitable<Reply> Webhook(Exchange& x);
  awaitable<void> TakeLargeTurn();
  awaitable<Reply> Healthz(Exchange& x);
  awaitable<Reply> Readyz(Exchange& x);
  awaitable<Reply> ApiCall(Exchange& x);
  awaitable<Reply> Dashboard(Exchange& x);
  awaitable<void> StreamEvents(beast::tcp_stream& stream, Reply& reply);
  void PublishApiChange(const ApiRequest& request, const ApiResponse& response);
  Reply RejectWebhook(std::string_view device, const Error& error,
                      std::chrono::steady_clock::time_point start,
                      const HttpRequest& request);
  template <typename F>
  awaitable<std::invoke_result_t<F>> Blocking(F f);

  const ServerOptions options_;
  EventHub hub_{options_.max_streams};
  Store& store_;
  IngestWriter& writer_;
  IngestWriter::ListenerId listener_ = 0;  // the live dashboards' listener
  Api* const api_;
  const Clock& clock_;

  // What a connection's coroutine touches as it ends. Declared before the
  // io_context: destroying the io_context destroys the coroutines still
  // queued on it, and their guards leave the table and the budget then.
  ConnectionTable table_;
  UploadBudget budget_;
  std::atomic<size_t> released_since_trim_{0};
  std::atomic<bool> large_turn_{false};  // a large body is with the writer
  std::atomic<size_t> in_flight_{0};
  std::atomic<size_t> waiting_{0};  // connections in AdmitWhenFree
  std::atomic<bool> stopping_{false};

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::thread_pool blocking_;  // Api::Handle and Store::Ping may block
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

// The route table: the first route whose path matches answers.
const Server::Impl::Route Server::Impl::kRoutes[] = {
    {IsWebhookPath, &Impl::Webhook},
    {[](std::string_view p) { return p == "/healthz"; }, &Impl::Healthz},
    {[](std::string_view p) { return p == "/readyz"; }, &Impl::Readyz},
    {IsApiPath, &Impl::ApiCall},
    {AnyPath, &Impl::Dashboard},
};

Status Server::Impl::Start() {
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                  tcp::resolver::passive, ec);
  auto fail = [&](const std::string& what) {
    return Unavailable(fmt::format(
        "cannot listen on {}:{}: {}; pick another address with --listen "
        "HOST:PORT",
        options_.host, options_.port, what));
  };
  if (ec || results.empty()) {
    return fail(ec ? ec.message() : "no such address");
  }
  tcp::endpoint endpoint = *results.begin();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(ec == asio::error::address_in_use
                    ? "the port is in use (is printmeter already running?)"
                    : ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  RaiseFileLimit();
  // Bodies over 256 KiB get their own mappings, returned to the system when
  // freed: a fixed threshold stops glibc from raising it after the first
  // big upload and keeping every later one on the heap.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  // Live dashboards hear of a printer once its ledger shows the change
  // (the projection trails the answer by a moment).
  listener_ = writer_.AddProjectionListener(
      [this](const std::map<std::string, int64_t, std::less<>>& changed) {
        if (hub_.size() == 0) return;
        for (const auto& [device, event] : changed) {
          hub_.Publish(ServerSentEvent(
              "printer",
              fmt::format("{{\"device\":{},\"event\":{}}}",
                          boost::json::serialize(boost::json::string(device)),
                          event)));
        }
      });
  asio::co_spawn(acceptor_.get_executor(), Accept(), asio::detached);
  int n = std::max(1, options_.io_threads);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      NameThisThread(fmt::format("pm-http-{}", i + 1));
      ioc_.run();
    });
  }
  return {};
}

void Server::Impl::Stop(TimeMs grace) {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  writer_.RemoveProjectionListener(listener_);
  hub_.Close();  // live streams end; they hold no request in flight
  std::promise<void> closed;
  auto closed_future = closed.get_future();
  asio::post(acceptor_.get_executor(), [this, &closed] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    closed.set_value();
  });
  if (!threads_.empty()) closed_future.wait();
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(grace);
  while ((in_flight_ > 0 || hub_.size() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (in_flight_ > 0) {
    spdlog::warn("{} request(s) still in flight after {} ms; closing them",
                 in_flight_.load(), grace);
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  blocking_.join();
}

void Server::Impl::RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlim_t want = options_.max_connections + 256;  // + the store, the logs
  if (limit.rlim_cur >= want) return;
  rlim_t raised = std::min(want, limit.rlim_max);
  limit.rlim_cur = raised;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || raised < want) {
    spdlog::warn(
        "the open-file limit ({}) is below the {} connections "
        "printmeter may hold; raise it (LimitNOFILE= in systemd, "
        "ulimit -n) or lower the connection cap",
        raised, options_.max_connections);
  }
}

awaitable<void> Server::Impl::Accept() {
  asio::steady_timer wait(acceptor_.get_executor());
  auto logged = std::chrono::steady_clock::time_point();
  uint64_t evicted_logged = 0;
  for (;;) {
    auto [ec, socket] =
        co_await acceptor_.async_accept(asio::make_strand(ioc_), kTuple);
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    auto now = std::chrono::steady_clock::now();
    if (ec) {
      // Out of file descriptors: free one, so the backlog keeps moving.
      bool freed = ec == asio::error::no_descriptors && table_.EvictOne(now);
      if (!freed) {
        spdlog::warn("accepting a connection failed: {}", ec.message());
      }
      wait.expires_after(std::chrono::milliseconds(freed ? 1 : 50));
      co_await wait.async_wait(kTuple);
      continue;
    }
    Admit(std::move(socket));
    if (table_.evicted() != evicted_logged &&
        now - logged > std::chrono::seconds(10)) {
      spdlog::warn(
          "{} connections open (cap {} in all, {} per client): "
          "closed {} idle or slow connection(s) to serve new ones",
          table_.size(), options_.max_connections,
          options_.max_connections_per_client,
          table_.evicted() - evicted_logged);
      evicted_logged = table_.evicted();
      logged = now;
    }
  }
}

void Server::Impl::Admit(tcp::socket socket) {
  auto conn = std::make_shared<Connection>(std::move(socket));
  conn->accepted = std::chrono::steady_clock::now();
  conn->entry = std::make_shared<ConnectionTable::Entry>();
  beast::error_code ignored;
  auto peer = conn->stream.socket().remote_endpoint(ignored).address();
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
    peer = asio::ip::make_address_v4(asio::ip::v4_mapped, peer.to_v6());
  }
  conn->entry->peer = peer;
  conn->entry->activity.Enter(Phase::kIdle, conn->accepted);
  std::weak_ptr<Connection> weak = conn;
  conn->entry->close = [weak] {
    auto c = weak.lock();
    if (!c) return;
    asio::post(c->stream.get_executor(), [c] { c->stream.close(); });
  };
  auto ex = conn->stream.get_executor();
  if (table_.Admit(conn->entry, conn->accepted)) {
    asio::co_spawn(ex, Serve(std::move(conn)), asio::detached);
  } else if (waiting_.fetch_add(1) < options_.max_connections) {
    asio::co_spawn(ex, AdmitWhenFree(std::move(conn)), asio::detached);
  } else {
    --waiting_;
    asio::co_spawn(ex, AnswerBusy(std::move(conn)), asio::detached);
  }
}

// Every slot holds a request being answered. An answer takes milliseconds
// and then its connection turns idle (evictable) or closes, so the newcomer
// asks again, sooner first, until admit_wait has passed since its accept.
awaitable<void> Server::Impl::AdmitWhenFree(std::shared_ptr<Connection> conn) {
  struct Unwait {
    std::atomic<size_t>& n;
    ~Unwait() { --n; }
  };
  bool admitted = false;
  {
    Unwait unwait{waiting_};
    asio::steady_timer timer(conn->stream.get_executor());
    const auto deadline =
        conn->accepted + std::chrono::milliseconds(options_.admit_wait);
    auto delay = std::chrono::milliseconds(2);
    while (!stopping_ && !admitted) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      timer.expires_after(std::min<std::chrono::steady_clock::duration>(
          delay, deadline - now));
      co_await timer.async_wait(kTuple);
      delay = std::min(delay * 2, std::chrono::milliseconds(100));
      now = std::chrono::steady_clock::now();
      // Idle from now, not from its accept: not the first to be closed.
      conn->entry->activity.Enter(Phase::kIdle, now);
      admitted = table_.Admit(conn->entry, now);
    }
  }
  if (admitted) {
    co_await Serve(std::move(conn));
  } else {
    co_await AnswerBusy(std::move(conn));
  }
}

// Every slot holds a request being answered: say so rather than wait.
awaitable<void> Server::Impl::AnswerBusy(std::shared_ptr<Connection> conn) {
  spdlog::warn(
      "refused a connection from {}: all {} connections are "
      "answering requests",
      conn->entry->peer.to_string(), options_.max_connections);
  http::response<http::string_body> response{http::status::service_unavailable,
                                             11};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::server, "printmeter");
  response.body() =
      "{\"error\":\"printmeter is answering as many requests as it can "
      "hold; send this one again in a moment\"}\n";
  response.keep_alive(false);
  response.prepare_payload();
  conn->stream.expires_after(std::chrono::seconds(1));
  co_await http::async_write(conn->stream, response, kTuple);
  beast::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

http::response<http::string_body> Server::Impl::Refusal(
    const ReadOutcome& read, const std::string& peer) {
  // The rest of the request cannot be trusted: answer and close.
  std::string_view message(read.message);
  while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  spdlog::warn("rejected a request from {}: {} {}", peer, read.status, message);
  if (api_) {
    std::string_view result = read.status == 400   ? "invalid"
                              : read.status == 503 ? "unavailable"
                                                   : "too_large";
    api_->metrics().RecordWebhook("", result, 0);
  }
  http::response<http::string_body> response{
      static_cast<http::status>(read.status), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = read.message;
  return response;
}

// After a burst of uploads, hands the freed heap back to the system (on the
// blocking pool: trimming a large heap takes a moment).
void Server::Impl::ReturnUploadMemory(size_t released) {
  constexpr size_t kTrimAfter = 16 << 20;
  if (released_since_trim_.fetch_add(released) + released < kTrimAfter ||
      budget_.in_flight() != 0) {
    return;
  }
  released_since_trim_ = 0;
  asio::post(blocking_, [] { malloc_trim(0); });
}

awaitable<void> Server::Impl::Serve(std::shared_ptr<Connection> conn) {
  // Leaves the table when the connection ends, however it ends.
  struct Leave {
    ConnectionTable& table;
    std::shared_ptr<ConnectionTable::Entry> entry;
    ~Leave() { table.Remove(entry); }
  } leave{table_, conn->entry};
  const std::string peer = conn->entry->peer.to_string();
  const bool loopback = conn->entry->peer.is_loopback();
  Activity& activity = conn->entry->activity;
  beast::tcp_stream& stream = conn->stream;
  beast::flat_buffer buffer;
  bool refused = false;  // answered before reading the whole request
  std::optional<Reply> stream_reply;  // a live stream takes the connection
  for (bool fresh = true, keep_alive = true; keep_alive && !stopping_;
       fresh = false) {
    RequestParser parser;
    UploadLease lease(budget_);
    ReadContext ctx{options_, activity,       lease,
                    fresh,    conn->accepted, &in_flight_};
    ReadOutcome read = co_await ReadRequest(stream, buffer, parser, ctx);
    struct Uncount {
      std::atomic<size_t>& n;
      bool counted;
      ~Uncount() {
        if (counted) --n;
      }
    } uncount{in_flight_, read.counted};
    if (read.kind == ReadOutcome::kClosed) {
      if (!read.message.empty()) {
        spdlog::warn("closed a connection from {}: {}", peer, read.message);
      }
      break;
    }
    http::response<http::string_body> response;
    bool head = false;
    if (read.kind == ReadOutcome::kRefused) {
      response = Refusal(read, peer);
      keep_alive = false;
      refused = true;
    } else {
      activity.Enter(Phase::kHandling, std::chrono::steady_clock::now());
      stream.expires_never();  // the writer's time is not the client's
      HttpRequest request = parser.release();
      keep_alive = request.keep_alive() && !stopping_;
      head = request.method() == http::verb::head;
      Exchange x{request, loopback};
      Reply reply = co_await Dispatch(x);
      if (reply.stream) {
        stream_reply = std::move(reply);
        break;
      }
      response.result(reply.status);
      response.set(http::field::content_type, reply.content_type);
      for (auto& [name, value] : reply.headers) response.set(name, value);
      response.body() = std::move(reply.body);
    }
    size_t held = lease.held();
    lease.Reset();
    ReturnUploadMemory(held);
    response.set(http::field::server, "printmeter");
    response.keep_alive(keep_alive);
    response.prepare_payload();
    if (head) response.body().clear();  // the length stays announced
    activity.Enter(Phase::kWriting, std::chrono::steady_clock::now());
    stream.expires_after(std::chrono::milliseconds(options_.write_timeout));
    auto [write_ec, w] = co_await http::async_write(stream, response, kTuple);
    if (write_ec) break;
    if (buffer.capacity() > (64 << 10)) buffer.shrink_to_fit();
  }
  // The subscription lives until the connection is shut: Stop() waits for
  // it. A stream counts as idle: over a cap it is closed first, and the
  // dashboard's EventSource reconnects.
  if (stream_reply) {
    activity.Enter(Phase::kIdle, std::chrono::steady_clock::now());
    co_await StreamEvents(stream, *stream_reply);
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (refused) {
    activity.Enter(Phase::kIdle, std::chrono::steady_clock::now());
    co_await DrainRefused(stream);
  }
}

// Sends the stream's opening, then every event the hub publishes and a
// comment line when nothing happened for stream_keepalive, until the client
// goes away (a write fails or times out) or the server stops (the hub
// closes). No Content-Length: the body ends when the connection closes.
awaitable<void> Server::Impl::StreamEvents(beast::tcp_stream& stream,
                                           Reply& reply) {
  using namespace asio::experimental::awaitable_operators;
  http::response<http::empty_body> head{http::status::ok, 11};
  head.set(http::field::server, "printmeter");
  head.set(http::field::content_type, reply.content_type);
  head.set(http::field::connection, "close");
  for (auto& [name, value] : reply.headers) head.set(name, value);
  http::response_serializer<http::empty_body> serializer{head};
  auto timeout = std::chrono::milliseconds(options_.write_timeout);
  stream.expires_after(timeout);
  auto [head_ec, h] =
      co_await http::async_write_header(stream, serializer, kTuple);
  if (head_ec) co_return;
  std::string text = std::move(reply.body);
  asio::steady_timer keepalive(stream.get_executor());
  while (!stopping_) {
    stream.expires_after(timeout);
    auto [ec, n] =
        co_await asio::async_write(stream, asio::buffer(text), kTuple);
    if (ec) break;
    stream.expires_never();
    keepalive.expires_after(
        std::chrono::milliseconds(options_.stream_keepalive));
    auto next = co_await (reply.stream->channel().async_receive(kTuple) ||
                          keepalive.async_wait(kTuple));
    if (next.index() == 1) {
      text = ": keep-alive\n\n";
      continue;
    }
    auto [receive_ec, event] = std::get<0>(std::move(next));
    if (receive_ec) break;  // the hub closed
    text = std::move(event);
  }
}

// A client whose request was refused early (413, 431, ...) may still be
// sending its body. Closing at once would make the kernel answer the unread
// bytes with a reset, and the client would see "broken pipe" instead of our
// answer. So read and discard what is still coming, bounded in bytes and
// time, until the client closes (a lingering close, as nginx does).
awaitable<void> Server::Impl::DrainRefused(beast::tcp_stream& stream) {
  stream.expires_after(kLingerTime);
  std::array<char, 16 * 1024> sink;
  size_t drained = 0;
  while (drained < options_.max_snapshot_body + options_.max_body) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (ec) break;
    drained += n;
  }
}

awaitable<Reply> Server::Impl::Dispatch(Exchange& x) {
  std::string_view path = PathOf(x.request.target());
  for (const Route& route : kRoutes) {
    if (route.matches(path)) co_return co_await (this->*route.handle)(x);
  }
  co_return JsonError(404, fmt::format("nothing is served at {}", path));
}

awaitable<Reply> Server::Impl::Dashboard(Exchange& x) {
  std::string_view path = PathOf(x.request.target());
  auto not_found = JsonError(
      404, fmt::format("nothing is served at {}; the webhook receiver is at "
                       "/webhook, the API at /api/v1/",
                       path));
  bool get = x.request.method() == http::verb::get ||
             x.request.method() == http::verb::head;
  if (!get) co_return not_found;
  if (options_.web_root.empty()) {
    StaticRequest request{x.request.target(),
                          x.request[http::field::accept_encoding],
                          x.request[http::field::if_none_match]};
    auto file = ServeEmbedded(options_.dashboard, request);
    if (!file) {
      if (path == "/" || path == "/index.html") {
        co_return ErrorReply(file.error());
      }
      co_return not_found;
    }
    co_return Reply{file->status, std::move(file->body),
                    std::move(file->content_type), std::move(file->headers)};
  }
  auto file = co_await Blocking([this, &x] {
    return LookupStatic(options_.web_root, x.request.target());
  });
  if (!file) {
    // The dashboard's own message when index.html is missing says how to
    // build it; other misses are plain 404s.
    if (path == "/" || path == "/index.html") co_return ErrorReply(file.error());
    co_return not_found;
  }
  co_return Reply{200, std::move(file->body), std::move(file->content_type),
                  std::move(file->headers)};
}

template <typename F>
awaitable<std::invoke_result_t<F>> Server::Impl::Blocking(F f) {
  // co_spawn wants a default-constructible result; Result<T> is not.
  using T = std::invoke_result_t<F>;
  std::optional<T> result = co_await asio::co_spawn(
      blocking_,
      [f = std::move(f)]() mutable -> awaitable<std::optional<T>> {
        co_return f();
      },
      use_awaitable);
  co_return std::move(*result);
}

awaitable<Reply> Server::Impl::Healthz(Exchange& x) {
  if (x.request.method() != http::verb::get &&
      x.request.method() != http::verb::head) {
    co_return Reply{405, "{\"error\":\"use GET\"}\n", "application/json",
                    {{"Allow", "GET, HEAD"}}};
  }
  co_return Reply{200, "{\"status\":\"ok\"}\n"};
}

awaitable<Reply> Server::Impl::Readyz(Exchange& x) {
  if (x.request.method() != http::verb::get &&
      x.request.method() != http::verb::head) {
    co_return Reply{405, "{\"error\":\"use GET\"}\n", "application/json",
                    {{"Allow", "GET, HEAD"}}};
  }
  Status ping = co_await Blocking([this] { return store_.Ping(); });
  if (!ping) {
    co_return JsonError(503, fmt::format("storage unavailable: {}",
                                         ping.error().message));
  }
  // How far the ledger trails the log: reads may miss that many events
  // that were already answered (ledger.md section 2). Ready either way:
  // webhooks are stored.
  Result<ProjectionLag> lag = co_await Blocking([this] { return store_.Lag(); });
  if (!lag) {
    co_return JsonError(503, fmt::format("storage unavailable: {}",
                                         lag.error().message));
  }
  double lag_s = 0;
  if (lag->oldest_unprojected) {
    lag_s = std::max<TimeMs>(0, clock_.Now() - *lag->oldest_unprojected) /
            1000.0;
  }
  co_return Reply{200, fmt::format("{{\"status\":\"ready\",\"lag_events\":{},"
                                   "\"lag_s\":{:.3f}}}\n",
                                   lag->events(), lag_s)};
}

awaitable<Reply> Server::Impl::ApiCall(Exchange& x) {
  std::string_view path = PathOf(x.request.target());
  if (!api_) {
    co_return JsonError(404, fmt::format("nothing is served at {}", path));
  }
  ApiRequest request;
  request.method = x.request.method_string();
  request.target = x.request.target();
  request.authorization = x.request[http::field::authorization];
  request.body = x.request.body();
  request.from_loopback = x.from_loopback;
  ApiResponse response =
      co_await Blocking([this, &request] { return api_->Handle(request); });
  PublishApiChange(request, response);
  Reply reply{response.status, std::move(response.body),
              std::move(response.content_type), std::move(response.headers)};
  // HEAD gets the opening's headers and no stream.
  if (reply.status == 200 && x.request.method() == http::verb::get &&
      reply.content_type.starts_with("text/event-stream")) {
    reply.stream = hub_.Subscribe(co_await asio::this_coro::executor);
    if (!reply.stream) {
      co_return Reply{
          503,
          fmt::format("{{\"error\":\"{} live dashboards are open, the most "
                      "this printmeter keeps; close one, or let this page "
                      "refresh by polling\"}}\n",
                      options_.max_streams),
          "application/json",
          {{"Retry-After", "30"}}};
    }
  }
  co_return reply;
}

// A successful change through the API (PUT /api/v1/sessions/{id}/user)
// tells the live dashboards which session changed.
void Server::Impl::PublishApiChange(const ApiRequest& request,
                                    const ApiResponse& response) {
  if (request.method == "GET" || request.method == "HEAD") return;
  if (response.status < 200 || response.status >= 300) return;
  constexpr std::string_view kSessions = "/api/v1/sessions/";
  std::string_view path = PathOf(request.target);
  if (!path.starts_with(kSessions)) return;
  std::string_view rest = path.substr(kSessions.size());
  std::string_view id = rest.substr(0, rest.find('/'));
  if (id.empty() || id.find_first_not_of("0123456789") != id.npos) return;
  hub_.Publish(
      ServerSentEvent("session", fmt::format("{{\"session\":{}}}", id)));
}

Reply Server::Impl::RejectWebhook(std::string_view device, const Error& error,
                                  std::chrono::steady_clock::time_point start,
                                  const HttpRequest& request) {
  spdlog::warn("webhook {} {} rejected ({}): {}", request.method_string(),
               PathOf(request.target()), HttpStatus(error.code),
               error.message);
  if (api_) {
    std::chrono::duration<double> latency =
        std::chrono::steady_clock::now() - start;
    api_->metrics().RecordWebhook(device, ResultName(error.code),
                                  latency.count());
  }
  return ErrorReply(error);
}

awaitable<Reply> Server::Impl::Webhook(Exchange& x) {
  auto start = std::chrono::steady_clock::now();
  HttpRequest& req = x.request;
  switch (req.method()) {
    case http::verb::post:
    case http::verb::put:
    case http::verb::get:
    case http::verb::delete_:
      break;
    default:
      co_return Reply{405,
                      fmt::format("{{\"error\":\"{} is not accepted here; the "
                                  "webhook takes POST, PUT, GET or DELETE\"}}\n",
                                  std::string(req.method_string())),
                      "application/json",
                      {{"Allow", "POST, PUT, GET, DELETE"}}};
  }
  Request r = DecoderRequest(req, clock_.Now());
  auto decoded = Decode(r, options_.decode);
  if (!decoded) co_return RejectWebhook("", decoded.error(), start, req);
  std::string device = decoded->event.device;
  if (req.body().size() > options_.max_body && !decoded->snapshot) {
    co_return RejectWebhook(
        device,
        {ErrorCode::kTooLarge,
         fmt::format("the request body is {} bytes, over the {} limit; only "
                     "a multipart request with a snapshot part may be larger "
                     "(up to {})",
                     req.body().size(), Mib(options_.max_body),
                     Mib(options_.max_snapshot_body))},
        start, req);
  }
  IngestItem item;
  item.decoded = std::move(*decoded);
  item.request = StoredRequest{std::string(r.method), std::string(r.target),
                               std::string(r.content_type),
                               std::move(req.body())};
  bool large = item.request->body.size() > options_.small_body;
  if (large) co_await TakeLargeTurn();
  Result<Verdict> verdict =
      co_await AsyncIngest(writer_, std::move(item), use_awaitable);
  if (large) large_turn_ = false;
  if (!verdict) co_return RejectWebhook(device, verdict.error(), start, req);
  const char* result =
      verdict->test ? "test" : verdict->duplicate ? "duplicate" : "stored";
  if (api_) {
    std::chrono::duration<double> latency =
        std::chrono::steady_clock::now() - start;
    api_->metrics().RecordWebhook(device, result, latency.count());
  }
  spdlog::debug("webhook from \"{}\": event {} {}", device, verdict->event_id,
                result);
  co_return Reply{200,
                  fmt::format("{{\"status\":\"stored\",\"event\":{},"
                              "\"duplicate\":{},\"test\":{}}}\n",
                              verdict->event_id, verdict->duplicate,
                              verdict->test)};
}

// One large body (a snapshot) at a time goes to the writer: a commit then
// carries at most one, and a printer's small webhook, which never waits
// here, waits at most for that one to be written.
awaitable<void> Server::Impl::TakeLargeTurn() {
  asio::steady_timer wait(co_await asio::this_coro::executor);
  for (bool free = false; !large_turn_.compare_exchange_weak(free, true);
       free = false) {
    wait.expires_after(std::chrono::milliseconds(2));
    co_await wait.async_wait(kTuple);
  }
}

Server::Server(ServerOptions options, Store& store, IngestWriter& writer,
               Api* api, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), store, writer, api,
                                   clock)) {}

Server::~Server() = default;

Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Stop(TimeMs grace) { impl_->Stop(grace); }

}  // namespace pm
