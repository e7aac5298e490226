// libpq, loaded when the first PostgreSQL connection is opened, not when
// printmeter starts.
//
// Debian's libpq brings sixteen libraries with it (GnuTLS, Kerberos, LDAP,
// SASL, ...), ~3 MiB of a process's resident memory, loaded and initialised
// at start even for a Raspberry Pi on SQLite that never speaks to
// PostgreSQL. So printmeter does not link libpq: the PostgreSQL layer
// (pg_db.cc) calls it through LibPq(), whose functions LoadLibPq() looks up
// in libpq.so.5 (Debian's libpq5) the first time a PostgreSQL URL is
// opened.
//
// Fails: LoadLibPq() returns a kNotFound Error naming the package when
// libpq.so.5 or one of its functions is missing; it tries once per process
// and returns the same answer after. LibPq() must only be called after
// LoadLibPq() succeeded.
#pragma once

#include <libpq-fe.h>

#include "common/result.h"

namespace pm::pg {

// Every libpq function printmeter calls. A function added to pg_db.cc must
// be added here (the compiler says so: LibPq() has no member of its name).
#define PM_LIBPQ_FUNCTIONS(X)                                                \
  X(PQclear) X(PQcmdTuples) X(PQconnectdb) X(PQconninfoFree)                 \
  X(PQconninfoParse) X(PQenterPipelineMode) X(PQerrorMessage) X(PQexec)      \
  X(PQexecPrepared) X(PQexitPipelineMode) X(PQfinish) X(PQfreemem)           \
  X(PQgetResult) X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQntuples)    \
  X(PQpipelineSync) X(PQprepare) X(PQreset) X(PQresultErrorField)            \
  X(PQresultStatus) X(PQsendQueryPrepared) X(PQsetNoticeProcessor)           \
  X(PQstatus) X(PQunescapeBytea)

struct LibPqFunctions {
#define PM_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  PM_LIBPQ_FUNCTIONS(PM_LIBPQ_MEMBER)
#undef PM_LIBPQ_MEMBER
};

// The file LoadLibPq() opens.
inline constexpr const char* kLibPqFile = "libpq.so.5";

// Loads libpq (once; thread-safe).
Status LoadLibPq();

// Opens `file` and looks up every function, each call anew (LoadLibPq()
// does this once with kLibPqFile). The handle of a file that has them all
// is never closed.
Result<LibPqFunctions> OpenLibPq(const char* file);

// libpq's functions; LoadLibPq() must have succeeded.
const LibPqFunctions& LibPq();

}  // namespace pm::pg
