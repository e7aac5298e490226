#include "store/libpq.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <string>

namespace pm::pg {

namespace {

// libpq.so.5, looked up on first use. Never destroyed, as the library is
// never closed: a connection closed by another static's destructor at exit
// (the test cluster's) still finds libpq's functions.
const Result<LibPqFunctions>& Once() {
  static const auto* loaded =
      new Result<LibPqFunctions>(OpenLibPq(kLibPqFile));
  return *loaded;
}

}  // namespace

Result<LibPqFunctions> OpenLibPq(const char* file) {
  // RTLD_LOCAL: libpq's symbols stay out of the global namespace. The
  // handle is never closed once libpq is found: GnuTLS and Kerberos are not
  // made to be unloaded, and a process that spoke PostgreSQL once will
  // again.
  void* handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return NotFound(fmt::format(
        "PostgreSQL needs libpq, which could not be loaded ({}); install it "
        "(Debian, Raspberry Pi OS: apt install libpq5)",
        why ? why : file));
  }
  LibPqFunctions functions;
  std::string missing;
#define PM_LIBPQ_LOOKUP(name)                                            \
  if (missing.empty()) {                                                 \
    void* symbol = dlsym(handle, #name);                                 \
    if (symbol) {                                                        \
      functions.name = reinterpret_cast<decltype(&::name)>(symbol);      \
    } else {                                                             \
      missing = #name;                                                   \
    }                                                                    \
  }
  PM_LIBPQ_FUNCTIONS(PM_LIBPQ_LOOKUP)
#undef PM_LIBPQ_LOOKUP
  if (!missing.empty()) {
    dlclose(handle);
    return NotFound(fmt::format(
        "the libpq found ({}) has no {}: printmeter needs libpq 14 or newer "
        "(Debian 12 has 15)",
        file, missing));
  }
  return functions;
}

Status LoadLibPq() {
  if (const auto& loaded = Once(); !loaded.ok()) return loaded.error();
  return {};
}

const LibPqFunctions& LibPq() {
  const auto& loaded = Once();
  if (!loaded.ok()) std::abort();  // LoadLibPq() was not asked
  return *loaded;
}

}  // namespace pm::pg
