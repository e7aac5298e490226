#include "store/stored_body.h"

#include <fmt/format.h>
#include <zlib.h>

#include <limits>

namespace pm {
namespace {

// Below this a body is kept as received: too little to win a page.
constexpr size_t kMinCompressed = 256;

// One deflate state per thread, reset for each body: setting one up costs
// more than compressing a webhook.
class Deflater {
 public:
  Deflater() {
    // A 4 KiB window: a webhook is a few KiB, and a larger one finds no
    // more in it (the same 874 bytes for the 2.4 KB fixture) but costs
    // setting up.
    ok_ = deflateInit2(&z_, /*level=*/1, Z_DEFLATED, /*windowBits=*/12,
                       /*memLevel=*/8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Deflater() {
    if (ok_) deflateEnd(&z_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // The zlib data of `in`, or nullopt when it would not be smaller than
  // `limit` bytes.
  std::optional<std::string> Compress(std::string_view in, size_t limit) {
    if (!ok_ || in.size() > std::numeric_limits<uInt>::max()) {
      return std::nullopt;
    }
    if (deflateReset(&z_) != Z_OK) return std::nullopt;
    std::string out(limit, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    // Z_OK or Z_BUF_ERROR: it did not fit in `limit`.
    if (deflate(&z_, Z_FINISH) != Z_STREAM_END) return std::nullopt;
    out.resize(out.size() - z_.avail_out);
    return out;
  }

 private:
  z_stream z_{};
  bool ok_ = false;
};

// One inflate state per thread, reset for each body (`rebuild` reads every
// body of the log): zlib's uncompress() sets one up and frees it each call.
class Inflater {
 public:
  Inflater() { ok_ = inflateInit(&z_) == Z_OK; }
  ~Inflater() {
    if (ok_) inflateEnd(&z_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Z_OK when `in` is zlib data of exactly out.size() bytes, put in `out`;
  // else zlib's error (Z_DATA_ERROR, Z_BUF_ERROR: longer or shorter).
  int Inflate(std::string_view in, std::string& out) {
    if (!ok_) return Z_MEM_ERROR;
    if (inflateReset(&z_) != Z_OK) return Z_STREAM_ERROR;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&z_, Z_FINISH);
    if (rc == Z_STREAM_END) return z_.avail_out == 0 ? Z_OK : Z_BUF_ERROR;
    // Z_BUF_ERROR: it holds more than out.size() bytes, or is cut short.
    return rc == Z_OK || rc == Z_NEED_DICT ? Z_DATA_ERROR : rc;
  }

 private:
  z_stream z_{};
  bool ok_ = false;
};

}  // namespace

CompressedBody CompressBody(std::string_view body) {
  const auto size = static_cast<int64_t>(body.size());
  if (body.size() >= kMinCompressed) {
    thread_local Deflater deflater;
    // Worth it only when it saves an eighth: a byte-identical body then
    // reads back without inflating.
    if (auto z = deflater.Compress(body, body.size() - body.size() / 8)) {
      return {std::move(*z), size};
    }
  }
  return {std::string(body), size};
}

Result<std::string> UncompressBody(std::string bytes,
                                   std::optional<int64_t> size) {
  if (!size || *size == static_cast<int64_t>(bytes.size())) return bytes;
  auto damaged = [&](std::string_view why) {
    return Internal(fmt::format(
        "a stored request body is damaged ({}; {} bytes stored for {}): the "
        "database file was changed outside printmeter",
        why, bytes.size(), *size));
  };
  if (*size < 0 || *size > int64_t{std::numeric_limits<uInt>::max()} ||
      bytes.size() > std::numeric_limits<uInt>::max()) {
    return damaged("impossible size");
  }
  thread_local Inflater inflater;
  std::string out(static_cast<size_t>(*size), '\0');
  if (int rc = inflater.Inflate(bytes, out); rc != Z_OK) {
    return damaged(rc == Z_BUF_ERROR ? "not the size stored" : zError(rc));
  }
  return out;
}

}  // namespace pm
