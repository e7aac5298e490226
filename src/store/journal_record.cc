#include "store/journal_record.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "store/row_mapping.h"

namespace pm::journal {
namespace {

enum Tag : char { kNull = 0, kInt = 1, kReal = 2, kText = 3 };
constexpr uint32_t kFormat = 1;

// Binder (row_mapping.h) into typed values.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  Writer& Bind(int64_t v) {
    out_.push_back(kInt);
    Put64(static_cast<uint64_t>(v));
    return *this;
  }
  Writer& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Writer& Bind(bool v) { return Bind(static_cast<int64_t>(v ? 1 : 0)); }
  Writer& Bind(double v) {
    out_.push_back(kReal);
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    Put64(bits);
    return *this;
  }
  Writer& Bind(std::string_view v) {
    out_.push_back(kText);
    Put64(v.size());
    out_.append(v);
    return *this;
  }
  Writer& Bind(const std::string& v) { return Bind(std::string_view(v)); }
  Writer& Bind(const char* v) { return Bind(std::string_view(v)); }
  Writer& BindBlob(std::string_view v) { return Bind(v); }
  Writer& BindNull() {
    out_.push_back(kNull);
    return *this;
  }
  template <typename T>
  Writer& Bind(const std::optional<T>& v) {
    return v ? Bind(*v) : BindNull();
  }
  void Count(uint64_t n) { Put64(n); }

 private:
  void Put64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string& out_;
};

// Reader (row_mapping.h) of Writer's values; a value of the wrong type, or
// bytes that end early, make it `bad` (and read as zero / empty).
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool bad() const { return bad_; }
  bool done() const { return in_.empty(); }

  bool IsNull() const { return !in_.empty() && in_[0] == kNull; }
  int64_t Int() { return static_cast<int64_t>(Fixed(kInt)); }
  bool Bool() { return Int() != 0; }
  double Real() {
    uint64_t bits = Fixed(kReal);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string Text() {
    if (!Take(kText)) return std::string();
    uint64_t n = Get64();
    if (bad_ || n > in_.size()) {
      bad_ = true;
      return std::string();
    }
    std::string v(in_.substr(0, n));
    in_.remove_prefix(n);
    return v;
  }
  std::optional<int64_t> OptInt() { return Null() ? std::nullopt : std::optional(Int()); }
  std::optional<double> OptReal() { return Null() ? std::nullopt : std::optional(Real()); }
  std::optional<std::string> OptText() {
    return Null() ? std::nullopt : std::optional(Text());
  }
  std::optional<bool> OptBool() { return Null() ? std::nullopt : std::optional(Bool()); }
  uint64_t Count() { return Get64(); }

 private:
  bool Null() {
    if (!IsNull()) return false;
    in_.remove_prefix(1);
    return true;
  }
  bool Take(Tag tag) {
    if (in_.empty() || in_[0] != tag) {
      bad_ = true;
      return false;
    }
    in_.remove_prefix(1);
    return true;
  }
  uint64_t Fixed(Tag tag) { return Take(tag) ? Get64() : 0; }
  uint64_t Get64() {
    if (in_.size() < 8) {
      bad_ = true;
      in_ = {};
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    }
    in_.remove_prefix(8);
    return v;
  }
  std::string_view in_;
  bool bad_ = false;
};

}  // namespace

std::string Encode(const Batch& batch) {
  std::string out;
  Writer w(out);
  w.Count(kFormat);
  w.Count(batch.events.size());
  for (const JournaledEvent& j : batch.events) {
    const EventRecord& r = j.record;
    rows::BindEvent(w, r.event);
    w.Bind(r.duplicate).Bind(r.decoder);
    if (r.request) {
      w.Bind(r.request->method).Bind(r.request->target);
      w.Bind(r.request->content_type);
    } else {
      w.BindNull().BindNull().BindNull();
    }
    w.BindBlob(j.body.bytes).Bind(j.body.size);
    if (r.request && r.request->picture) {
      const StoredPicture& p = *r.request->picture;
      w.Bind(p.offset).Bind(p.size).Bind(p.content_type).BindBlob(p.bytes);
    } else {
      w.BindNull();
    }
  }
  w.Count(batch.devices.size());
  for (const DeviceRecord& d : batch.devices) {
    w.Bind(d.device).Bind(d.secret).Bind(d.first_seen).Bind(d.last_received);
  }
  return out;
}

Result<Batch> Decode(std::string_view bytes) {
  Reader q(bytes);
  Batch batch;
  auto damaged = [](const char* what) {
    return Invalid(fmt::format("a damaged journal record ({})", what));
  };
  if (q.Count() != kFormat || q.bad()) return damaged("unknown format");
  uint64_t events = q.Count();
  if (q.bad() || events > bytes.size()) return damaged("event count");
  for (uint64_t i = 0; i < events && !q.bad(); ++i) {
    JournaledEvent j;
    EventRecord& r = j.record;
    r.event = rows::ReadEvent(q);
    r.duplicate = q.Bool();
    r.decoder = q.Int();
    std::optional<std::string> method = q.OptText();
    std::optional<std::string> target = q.OptText();
    std::optional<std::string> type = q.OptText();
    j.body.bytes = q.Text();
    j.body.size = q.Int();
    if (method) {
      r.request = StoredRequest{std::move(*method), target.value_or(""),
                                type.value_or(""), std::string()};
    }
    if (!q.IsNull()) {
      StoredPicture p;
      p.offset = q.Int();
      p.size = q.Int();
      p.content_type = q.Text();
      p.bytes = q.Text();
      if (r.request) r.request->picture = std::move(p);
    } else {
      (void)q.OptInt();
    }
    batch.events.push_back(std::move(j));
  }
  uint64_t devices = q.Count();
  if (q.bad() || devices > bytes.size()) return damaged("device count");
  for (uint64_t i = 0; i < devices && !q.bad(); ++i) {
    batch.devices.push_back(rows::ReadDeviceRecord(q));
  }
  if (q.bad()) return damaged("a value of the wrong type or cut short");
  if (!q.done()) return damaged("bytes after its end");
  return batch;
}

}  // namespace pm::journal
