// The HTTP status that answers each ErrorCode, in one table. The codes speak
// of the product (common/result.h); this is where the receiver and the API
// say them in HTTP.
#pragma once

#include "common/result.h"

namespace pm {

struct HttpStatusRow {
  ErrorCode code;
  int status;
};

// One row per ErrorCode (http/status_test.cc checks it).
inline constexpr HttpStatusRow kHttpStatuses[] = {
    {ErrorCode::kInvalid, 400},         {ErrorCode::kUnauthorized, 401},
    {ErrorCode::kForbidden, 403},       {ErrorCode::kNotFound, 404},
    {ErrorCode::kConflict, 409},        {ErrorCode::kTooLarge, 413},
    {ErrorCode::kUriTooLong, 414},      {ErrorCode::kUnsupported, 415},
    {ErrorCode::kTooManyRequests, 429}, {ErrorCode::kHeaderTooLarge, 431},
    {ErrorCode::kInternal, 500},        {ErrorCode::kUnavailable, 503},
};

// The status of `code`'s row; 500 for a code without one.
int HttpStatus(ErrorCode code);

}  // namespace pm
