// RowDigest (row_digest.h): bound from C++ and computed by SQLite's
// pm_row_digest over the stored row, the same digest; values that differ,
// by a bit or by type, different digests.
#include "store/row_digest.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <set>

#include "store/sqlite_db.h"
#include "store/sqlite_rows.h"
#include "store/store_test_util.h"

namespace pm {
namespace {

using Row = std::tuple<std::optional<int64_t>, std::optional<double>,
                       std::optional<std::string>>;

template <typename Binder>
void BindRow(Binder& b, const Row& row) {
  b.Bind(std::get<0>(row)).Bind(std::get<1>(row)).Bind(std::get<2>(row));
}

uint64_t Digest(const Row& row) {
  RowDigest d;
  BindRow(d, row);
  return d.value();
}

TEST(RowDigestTest, SqliteDigestsAStoredRowAsTheBinderDigestsItsValues) {
  testing::TempDir dir;
  auto conn = sqlite::Connection::Open(dir.File("d.db"), true);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  ASSERT_TRUE((*conn)->DefineRowDigest().ok());
  ASSERT_TRUE((*conn)
                  ->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, i INTEGER, "
                         "r REAL, s TEXT)")
                  .ok());
  std::vector<Row> rows = {
      {0, 0.0, ""},
      {std::nullopt, std::nullopt, std::nullopt},
      {std::numeric_limits<int64_t>::min(), -1e300, std::string(1, '\0')},
      {std::numeric_limits<int64_t>::max(), 3.0, "exactly8"},
      {-1, 0.1, "a text longer than one word, and then some more: ünïcödé"},
      {42, std::nullopt, "x"},
  };
  std::mt19937_64 random(3);
  for (int i = 0; i < 200; ++i) {
    std::string s(random() % 40, '\0');
    for (char& c : s) c = static_cast<char>(random());
    rows.push_back({static_cast<int64_t>(random()),
                    static_cast<double>(random() % 1000) / 7, s});
  }
  for (size_t k = 0; k < rows.size(); ++k) {
    Status s = sqlite::RunOn(**conn, "INSERT INTO t VALUES (?, ?, ?, ?)",
                             [&](sqlite::Query& q) {
                               q.Bind(static_cast<int64_t>(k));
                               BindRow(q, rows[k]);
                             });
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  std::vector<uint64_t> stored;
  Status s = sqlite::Collect(
      **conn, sqlite::Sql{"SELECT pm_row_digest(i, r, s) FROM t ORDER BY k", {}},
      [](sqlite::Query& q) { return static_cast<uint64_t>(q.Int()); }, stored);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(stored.size(), rows.size());
  std::set<uint64_t> distinct;
  for (size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(stored[k], Digest(rows[k])) << "row " << k;
    distinct.insert(stored[k]);
  }
  EXPECT_EQ(distinct.size(), rows.size()) << "every row differs, so do they";
}

TEST(RowDigestTest, AValueOfAnotherTypeOrPlaceOrOneBitOffDigestsOtherwise) {
  auto digest = [](auto... values) {
    RowDigest d;
    (d.Bind(values), ...);
    return d.value();
  };
  EXPECT_NE(digest(int64_t{1}), digest(1.0));
  EXPECT_NE(digest(int64_t{1}), digest("1"));
  EXPECT_NE(digest(std::string_view("")), RowDigest().BindNull().value());
  EXPECT_NE(digest("ab", "c"), digest("a", "bc"));
  EXPECT_NE(digest(int64_t{1}, int64_t{2}), digest(int64_t{2}, int64_t{1}));
  EXPECT_NE(digest(std::string("a\0", 2)), digest("a"));
  for (int bit = 0; bit < 64; ++bit) {
    EXPECT_NE(digest(int64_t{0}), digest(int64_t{1} << bit)) << bit;
  }
  EXPECT_EQ(digest("same", 2.5, int64_t{7}), digest("same", 2.5, int64_t{7}));
}

}  // namespace
}  // namespace pm
