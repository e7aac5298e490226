// GET /api/v1/printers: attention_message, the printer's own words while it
// needs attention.
#include <gtest/gtest.h>

#include "api/api_testing.h"

namespace pm {
namespace {

using testing::ApiFixture;
using testing::Ingester;
using testing::kAug1;
using testing::MakeEvent;

const boost::json::object& Printer(const boost::json::value& v,
                                   std::string_view device) {
  for (const auto& p : v.at("printers").as_array()) {
    if (p.at("device").as_string() == device) return p.as_object();
  }
  static const boost::json::object kNone;
  ADD_FAILURE() << "no printer " << device;
  return kNone;
}

TEST(AttentionTest, MessageWhileItNeedsAttentionOnly) {
  ApiFixture f;
  Ingester in(*f.store);
  TimeMs t = kAug1 + kDayMs;
  in.Ingest(MakeEvent("delta", Kind::kStarted, t));
  Event ask = MakeEvent("delta", Kind::kAttention, t + kMinuteMs);
  ask.message = "User action needed. You might need to change the filament.";
  in.Ingest(ask);
  in.Ingest(MakeEvent("ender", Kind::kStarted, t));

  auto v = ApiFixture::Json(f.Get("/api/v1/printers"));
  const auto& delta = Printer(v, "delta");
  EXPECT_TRUE(delta.at("needs_attention").as_bool());
  EXPECT_EQ(delta.at("attention_message").as_string(),
            "User action needed. You might need to change the filament.");
  EXPECT_TRUE(Printer(v, "ender").at("attention_message").is_null());

  // Printing on: no longer needs attention, no message.
  in.Ingest(MakeEvent("delta", Kind::kProgress, t + 2 * kMinuteMs));
  auto later = ApiFixture::Json(f.Get("/api/v1/printers"));
  EXPECT_FALSE(Printer(later, "delta").at("needs_attention").as_bool());
  EXPECT_TRUE(Printer(later, "delta").at("attention_message").is_null());
}

TEST(AttentionTest, ErrorTextWhenTheEventHasNoMessage) {
  ApiFixture f;
  Ingester in(*f.store);
  TimeMs t = kAug1 + kDayMs;
  in.Ingest(MakeEvent("delta", Kind::kStarted, t));
  Event ask = MakeEvent("delta", Kind::kAttention, t + kMinuteMs);
  ask.error = "Filament runout on T0";
  in.Ingest(ask);
  auto v = ApiFixture::Json(f.Get("/api/v1/printers"));
  const auto& delta = Printer(v, "delta");
  ASSERT_TRUE(delta.at("needs_attention").as_bool());
  EXPECT_EQ(delta.at("attention_message").as_string(), "Filament runout on T0");
}

}  // namespace
}  // namespace pm
