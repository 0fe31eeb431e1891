#include <gtest/gtest.h>

#include <set>
#include <wiremeter/query.hpp>

namespace wiremeter {
namespace {

struct Row {
  int key;
  int id;
};

std::string page_of(const std::string& qs, std::vector<Row> rows) {
  Query q(qs);
  ListPage<Row> page(q, {{"key", [](const Row& a, const Row& b) { return a.key < b.key; }}}, "key",
                     [](const Row& a, const Row& b) { return a.id < b.id; });
  JsonWriter out;
  page.write(rows, out, [](JsonWriter& w, const Row& r) { w.value(r.id); });
  return out.str();
}

TEST(ListPage, PagesThroughEqualKeysWithoutOverlap) {
  std::vector<Row> rows;
  for (int i = 0; i < 50; ++i) rows.push_back({i % 3, i});
  std::multiset<std::string> seen;
  for (int p = 1; p <= 10; ++p) {
    std::string json = page_of("sort=key&size=5&page=" + std::to_string(p), rows);
    auto items = json.substr(json.find("\"items\":[") + 9);
    items = items.substr(0, items.find(']'));
    size_t pos = 0;
    while (pos < items.size()) {
      size_t comma = items.find(',', pos);
      if (comma == std::string::npos) comma = items.size();
      seen.insert(items.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  EXPECT_EQ(seen.size(), 50u);
  for (auto& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;
}

TEST(Query, DecodesAndValidates) {
  Query q("filter=a%20b&size=7&from=1.5");
  EXPECT_EQ(q.get_or("filter", ""), "a b");
  EXPECT_EQ(q.get_uint("size", 100, 1, 1000), 7u);
  EXPECT_EQ(q.get_time_ns("from", 0), 1'500'000'000u);
  EXPECT_THROW(q.get_uint("size", 100, 10, 1000), QueryError);
  EXPECT_THROW(q.allow_only({"filter"}), QueryError);
  EXPECT_THROW(Query("from=x").get_time_ns("from", 0), QueryError);
}

TEST(Query, NegativeTimesAreSecondsBeforeNow) {
  const uint64_t now = 1'800'000'000'000'000'000;
  Query q("from=-600&to=-0", now);
  EXPECT_EQ(q.get_time_ns("from", 0), now - 600'000'000'000);
  EXPECT_EQ(q.get_time_ns("to", 0), now);
  TimeWindow w(q);
  EXPECT_TRUE(w.overlaps(now - 1'000'000'000, now - 1'000'000'000));
  EXPECT_FALSE(w.overlaps(0, now - 601'000'000'000));
  // 0 is the epoch, not now: from=0 keeps meaning "from the start".
  EXPECT_EQ(Query("from=0", now).get_time_ns("from", 5), 0u);
  // Further back than the epoch clamps to it.
  EXPECT_EQ(Query("from=-9999999999", 1'000'000'000).get_time_ns("from", 5), 0u);
  EXPECT_THROW(Query("from=-x", now).get_time_ns("from", 0), QueryError);
  EXPECT_THROW(Query("from=--5", now).get_time_ns("from", 0), QueryError);
  Query inverted("from=-600&to=-700", now);
  EXPECT_THROW(TimeWindow{inverted}, QueryError);
  // Without the host's clock, a relative time cannot be resolved: a clear error, not epoch.
  EXPECT_THROW(Query("from=-600").get_time_ns("from", 0), QueryError);
}

}  // namespace
}  // namespace wiremeter
