#include "http/status.h"

namespace pm {

int HttpStatus(ErrorCode code) {
  for (const HttpStatusRow& row : kHttpStatuses) {
    if (row.code == code) return row.status;
  }
  return 500;
}

}  // namespace pm
