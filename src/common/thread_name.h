// Names for printmeter's threads, as `top -H`, `ps -L`, gdb and
// /proc/PID/task/*/comm show them: which thread spends the CPU, or writes
// the bytes (/proc/PID/task/TID/io), can then be read off by name.
//
// Each thread names itself first thing. Linux keeps 15 characters; a longer
// name is cut, never refused, and naming cannot fail in a way that matters.
#pragma once

#include <pthread.h>

#include <string>

namespace pm {

inline void NameThisThread(const std::string& name) {
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace pm
