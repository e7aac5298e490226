// RowDigest: a 64-bit digest of a row's values, the same whether the
// values are bound from C++ (it is a binder, as sqlite::Query: BindSession
// and the like fill it) or read back from SQLite by the SQL function
// pm_row_digest(...) (sqlite::Connection::DefineRowDigest), which digests
// its arguments as SQLite types them. A rebuild compares the ledger it
// folded with the stored one this way, without holding either whole, and
// writes only the rows that differ (sqlite_projection.cc).
//
// Each value counts with its type (null, integer, real, text): 1 and 1.0
// and "1" differ, as they would in the table. A difference the digest
// misses is a 64-bit hash collision (a word at a time, then mixed); one it
// sees where there is none (a value bound as one type and stored as
// another) only writes a row that was right already.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace pm {

class RowDigest {
 public:
  enum Tag : unsigned char { kNull = 0, kInteger = 1, kReal = 2, kText = 3 };

  RowDigest& Bind(int64_t v) {
    Mix(kInteger);
    Mix(static_cast<uint64_t>(v));
    return *this;
  }
  RowDigest& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  RowDigest& Bind(bool v) { return Bind(static_cast<int64_t>(v ? 1 : 0)); }
  RowDigest& Bind(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    Mix(kReal);
    Mix(bits);
    return *this;
  }
  RowDigest& Bind(std::string_view text) {
    // The tag and the length in one word, then the bytes 8 at a time (the
    // last word padded with zeros: the length tells them apart).
    Mix(kText | (static_cast<uint64_t>(text.size()) << 8));
    size_t at = 0;
    for (; at + 8 <= text.size(); at += 8) {
      uint64_t word;
      std::memcpy(&word, text.data() + at, 8);
      Mix(word);
    }
    if (at < text.size()) {
      uint64_t word = 0;
      std::memcpy(&word, text.data() + at, text.size() - at);
      Mix(word);
    }
    return *this;
  }
  RowDigest& Bind(const std::string& text) {
    return Bind(std::string_view(text));
  }
  RowDigest& Bind(const char* text) { return Bind(std::string_view(text)); }
  RowDigest& BindNull() {
    Mix(kNull);
    return *this;
  }
  template <typename T>
  RowDigest& Bind(const std::optional<T>& v) {
    return v ? Bind(*v) : BindNull();
  }

  uint64_t value() const {
    // A final mix (murmur3's), so that near rows differ in every bit.
    uint64_t h = h_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

 private:
  // A word at a time: for a given word a bijection of the state (an odd
  // multiplier, then a xor-shift), so no two states meet by the same word;
  // a changed word changes the state.
  void Mix(uint64_t word) {
    h_ = (h_ ^ word) * 0x9e3779b97f4a7c15ULL;
    h_ ^= h_ >> 29;
  }

  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace pm
