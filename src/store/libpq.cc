#include "store/libpq.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <string>

namespace pm::pg {

namespace {

struct Loaded {
  LibPqFunctions functions;
  std::string error;  // empty when loaded
};

Loaded Load() {
  Loaded loaded;
  // RTLD_LOCAL: libpq's symbols stay out of the global namespace. The
  // handle is never closed: GnuTLS and Kerberos are not made to be
  // unloaded, and a process that spoke PostgreSQL once will again.
  void* handle = dlopen(kLibPqFile, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    loaded.error = fmt::format(
        "PostgreSQL needs libpq, which could not be loaded ({}); install it "
        "(Debian, Raspberry Pi OS: apt install libpq5)",
        why ? why : kLibPqFile);
    return loaded;
  }
#define PM_LIBPQ_LOOKUP(name)                                            \
  if (loaded.error.empty()) {                                            \
    void* symbol = dlsym(handle, #name);                                 \
    if (symbol) {                                                        \
      loaded.functions.name = reinterpret_cast<decltype(&::name)>(symbol); \
    } else {                                                             \
      loaded.error = fmt::format(                                        \
          "the libpq found ({}) has no {}: printmeter needs libpq 14 or " \
          "newer (Debian 12 has 15)",                                    \
          kLibPqFile, #name);                                            \
    }                                                                    \
  }
  PM_LIBPQ_FUNCTIONS(PM_LIBPQ_LOOKUP)
#undef PM_LIBPQ_LOOKUP
  return loaded;
}

const Loaded& Once() {
  static const Loaded loaded = Load();
  return loaded;
}

}  // namespace

Status LoadLibPq() {
  const Loaded& loaded = Once();
  if (!loaded.error.empty()) return NotFound(loaded.error);
  return {};
}

const LibPqFunctions& LibPq() {
  const Loaded& loaded = Once();
  if (!loaded.error.empty()) std::abort();  // LoadLibPq() was not asked
  return loaded.functions;
}

}  // namespace pm::pg
