#include "mqtt/test_broker.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

namespace pm::testing {

namespace {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TestBroker::TestBroker(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {
  static std::atomic<int> counter{0};
  dir_ = std::filesystem::temp_directory_path() /
         fmt::format("pm_mqtt_{}_{}", ::getpid(), counter++);
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

TestBroker::~TestBroker() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestBroker::Url() const {
  if (user_.empty()) return fmt::format("mqtt://127.0.0.1:{}", port_);
  return fmt::format("mqtt://{}:{}@127.0.0.1:{}", user_, password_, port_);
}

Status TestBroker::Start() {
  if (pid_ > 0) return {};
  if (port_ == 0) port_ = FreePort();
  if (port_ == 0) return Unavailable("no free loopback port");
  std::string conf = (dir_ / "mosquitto.conf").string();
  {
    std::ofstream out(conf);
    out << "listener " << port_ << " 127.0.0.1\n"
        << "persistence false\n"
        << "log_dest file " << (dir_ / "mosquitto.log").string() << "\n";
    if (::geteuid() == 0) out << "user root\n";
    if (user_.empty()) {
      out << "allow_anonymous true\n";
    } else {
      out << "allow_anonymous false\n"
          << "password_file " << (dir_ / "passwd").string() << "\n";
    }
  }
  if (!user_.empty()) {
    std::string cmd = fmt::format(
        "/usr/bin/mosquitto_passwd -c -b '{}' '{}' '{}' >/dev/null 2>&1",
        (dir_ / "passwd").string(), user_, password_);
    if (std::system(cmd.c_str()) != 0) {
      return Unavailable("mosquitto_passwd failed");
    }
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Unavailable("fork failed");
  if (pid == 0) {
    // Killed with the thread that started it: a test that crashes before
    // Stop() leaves no broker behind.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
      ::_exit(127);
    }
    ::execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  // Waiting for a real server to listen: there is no clock to fake here.
  for (int i = 0; i < 500; ++i) {
    if (Accepts(port_)) return {};
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Unavailable(fmt::format("mosquitto exited at start; see {}",
                                     (dir_ / "mosquitto.log").string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stop();
  return Unavailable("mosquitto did not listen within 5 s");
}

void TestBroker::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

TestSubscriber::TestSubscriber(int port, const std::string& filter,
                               const std::string& user,
                               const std::string& password) {
  mosquitto_lib_init();
  mosq_ = mosquitto_new(nullptr, true, this);
  EXPECT_NE(mosq_, nullptr);
  if (!mosq_) return;
  mosquitto_message_callback_set(mosq_, &TestSubscriber::OnMessage);
  mosquitto_subscribe_callback_set(mosq_, &TestSubscriber::OnSubscribe);
  if (!user.empty()) {
    mosquitto_username_pw_set(mosq_, user.c_str(), password.c_str());
  }
  int rc = mosquitto_connect(mosq_, "127.0.0.1", port, 30);
  EXPECT_EQ(rc, MOSQ_ERR_SUCCESS) << mosquitto_strerror(rc);
  rc = mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 1);
  EXPECT_EQ(rc, MOSQ_ERR_SUCCESS) << mosquitto_strerror(rc);
  rc = mosquitto_loop_start(mosq_);
  EXPECT_EQ(rc, MOSQ_ERR_SUCCESS) << mosquitto_strerror(rc);
  std::unique_lock lock(mu_);
  EXPECT_TRUE(changed_.wait_for(lock, std::chrono::seconds(10),
                                [&] { return subscribed_; }))
      << "the subscription was not acknowledged";
}

TestSubscriber::~TestSubscriber() {
  if (!mosq_) return;
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, false);
  mosquitto_destroy(mosq_);
}

void TestSubscriber::OnMessage(mosquitto*, void* self,
                               const mosquitto_message* m) {
  auto* s = static_cast<TestSubscriber*>(self);
  {
    std::lock_guard lock(s->mu_);
    Received& r = s->topics_[m->topic];
    r.payload.assign(static_cast<const char*>(m->payload),
                     static_cast<size_t>(m->payloadlen));
    r.retained = m->retain;
    ++r.count;
  }
  s->changed_.notify_all();
}

void TestSubscriber::OnSubscribe(mosquitto*, void* self, int, int,
                                 const int*) {
  auto* s = static_cast<TestSubscriber*>(self);
  {
    std::lock_guard lock(s->mu_);
    s->subscribed_ = true;
  }
  s->changed_.notify_all();
}

bool TestSubscriber::WaitFor(const std::function<bool(const Topics&)>& done,
                             std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return done(topics_); });
}

bool TestSubscriber::WaitForTopic(
    const std::string& topic, const std::function<bool(const Received&)>& done,
    std::chrono::milliseconds timeout) {
  return WaitFor(
      [&](const Topics& t) {
        auto it = t.find(topic);
        return it != t.end() && done(it->second);
      },
      timeout);
}

Topics TestSubscriber::topics() {
  std::lock_guard lock(mu_);
  return topics_;
}

}  // namespace pm::testing
