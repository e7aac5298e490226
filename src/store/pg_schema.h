// The PostgreSQL store's schema and its versioned migrations.
#pragma once

#include "store/pg_db.h"

namespace pm::pg {

int LatestSchemaVersion();

// Brings the database to the latest schema in one transaction, under an
// advisory lock (instances that start together migrate once). An empty
// database gets the whole schema; one from a newer printmeter, or holding
// another program's tables, is refused with kConflict and a message that
// says what to do.
Status Migrate(Connection& conn);

}  // namespace pm::pg
