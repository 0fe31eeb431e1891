#include <gtest/gtest.h>

#include <thread>
#include <wiremeter/record_log.hpp>

namespace wiremeter {
namespace {

TEST(RecordLog, KeepsTheNewestInOrder) {
  RecordLog<int> log(3);
  for (int i = 1; i <= 5; ++i) log.push(i);
  EXPECT_EQ(log.snapshot(), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(log.total(), 5u);
  EXPECT_EQ(log.dropped(), 2u);
}

TEST(RecordLog, ReadersRunBesideTheWriter) {
  RecordLog<uint64_t> log(1000);
  std::thread writer([&] {
    for (uint64_t i = 0; i < 100000; ++i) log.push(i);
  });
  for (int r = 0; r < 100; ++r) {
    auto s = log.snapshot();
    // Oldest first and never torn; records overwritten during the read are skipped.
    for (size_t i = 1; i < s.size(); ++i) ASSERT_GT(s[i], s[i - 1]);
  }
  writer.join();
  EXPECT_EQ(log.snapshot().back(), 99999u);
}

}  // namespace
}  // namespace wiremeter
