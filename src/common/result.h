// Result<T>: a value or an Error, returned instead of thrown.
//
// Errors carry a code that maps onto an HTTP status and a message written for
// the person who has to act on it ("deviceIdentifier is missing", not
// "parse error"). Modelled on LevelDB's Status and Abseil's StatusOr<T>.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace pm {

enum class ErrorCode {
  kInvalid,          // 400: the request or argument is malformed
  kUnauthorized,     // 401: wrong or missing secret / token
  kForbidden,        // 403: not allowed (unknown device in strict mode)
  kNotFound,         // 404
  kTooLarge,         // 413: body over the limit
  kUnsupported,      // 415: content type printmeter cannot read
  kHeaderTooLarge,   // 431
  kUriTooLong,       // 414
  kUnavailable,      // 503: storage cannot be reached or written
  kTooManyRequests,  // 429: over a rate limit (device registrations)
  kConflict,         // 409: e.g. a database from a newer printmeter
  kInternal,         // 500: a bug
};

// The HTTP status that answers an error of this code.
int HttpStatus(ErrorCode code);

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
