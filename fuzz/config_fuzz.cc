// libFuzzer target for the config file (src/cli/config.h): any bytes as a
// printmeter.toml. LoadConfigFile must answer a Config or an error that
// names the file, never crash; a Config it answers must save and load again
// to the same settings.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cli/config.h"

namespace {

void Check(bool promise, const char* what) {
  if (!promise) {
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
  }
}

std::string Dir() {
  static const std::string dir = [] {
    const char* shm = "/dev/shm";
    std::string base = access(shm, W_OK) == 0 ? shm : "/tmp";
    return base + "/printmeter-config-fuzz-" + std::to_string(getpid());
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool made = [] {
    return mkdir(Dir().c_str(), 0700) == 0 || errno == EEXIST;
  }();
  Check(made, "a scratch directory");
  const std::string path = Dir() + "/printmeter.toml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data),
              static_cast<std::streamsize>(size));
  }
  auto config = pm::LoadConfigFile(path, /*must_exist=*/true);
  if (!config) {
    Check(config.error().message.find(path) != std::string::npos,
          "an error names the file");
    return 0;
  }
  // Loading is a function of the file: the same bytes, the same settings.
  auto again = pm::LoadConfigFile(path, /*must_exist=*/true);
  Check(again.ok(), "a config that loaded once loads again");
  Check(again->listen == config->listen && again->db == config->db &&
            again->auth == config->auth &&
            again->timezone == config->timezone &&
            again->currency == config->currency &&
            again->admin_token == config->admin_token &&
            again->read_token == config->read_token &&
            again->max_devices == config->max_devices &&
            again->registrations_per_hour == config->registrations_per_hour &&
            again->devices.size() == config->devices.size(),
        "the same file loads to the same settings");
  return 0;
}
