// Result<T>: a value or an Error, returned instead of thrown.
//
// Errors carry a code that says what kind of failure it is, in the product's
// words, and a message written for the person who has to act on it
// ("deviceIdentifier is missing", not "parse error"). Each edge translates
// the code for its audience (the HTTP server and the API: http/status.h).
// Modelled on LevelDB's Status and Abseil's StatusOr<T>.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace pm {

enum class ErrorCode {
  kInvalid,          // the request or argument is malformed
  kUnauthorized,     // the secret or token is wrong or missing
  kForbidden,        // refused by policy, not for want of a secret: an
                     // unknown device in strict mode, a new device over
                     // max_devices, a reader at an admin endpoint
  kNotFound,         // what was asked for does not exist (a session, an
                     // event, a database or config file, an endpoint)
  kTooLarge,         // the request body is over its limit
  kUnsupported,      // a content type printmeter cannot read
  kHeaderTooLarge,   // the request's headers are over their limit
  kUriTooLong,       // the request's target is over its limit
  kUnavailable,      // storage cannot be reached or written
  kTooManyRequests,  // over a rate limit (device registrations)
  kConflict,         // the database is in no state for it: from a newer
                     // printmeter, not printmeter's, or being written by
                     // another printmeter
  kInternal,         // a bug in printmeter. Keep it last: tests walk the
                     // codes up to it.
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

inline Error Invalid(std::string m) { return {ErrorCode::kInvalid, std::move(m)}; }
inline Error Unavailable(std::string m) {
  return {ErrorCode::kUnavailable, std::move(m)};
}
inline Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

// A value of type T, or the Error that prevented it.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}    // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success, or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace pm
