#include "http_window.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wiremeter::http {
namespace {

std::string text(std::span<const uint8_t> s) { return std::string(s.begin(), s.end()); }

bool put(WindowPool& pool, WindowHandle& h, int dir, uint32_t offset, std::string_view s,
         uint64_t ts = 1) {
  return pool.store(h, dir, offset, reinterpret_cast<const uint8_t*>(s.data()),
                    static_cast<uint32_t>(s.size()), ts);
}

TEST(WindowPool, PutsPiecesInOrderAndTheFirstCopyWins) {
  WindowPool pool(2, 64);
  WindowHandle h{};
  ASSERT_TRUE(pool.acquire(h));
  put(pool, h, 0, 6, "HTTP/1.1", 20);
  EXPECT_EQ(text(pool.contiguous(h, 0)), "");
  put(pool, h, 0, 0, "GET / ", 30);
  EXPECT_EQ(text(pool.contiguous(h, 0)), "GET / HTTP/1.1");
  EXPECT_EQ(pool.first_ns(h, 0), 30u);   // when the first byte arrived
  put(pool, h, 0, 4, "XXXXXXXXXX\r\n");  // overlaps: only the new tail is taken
  EXPECT_EQ(text(pool.contiguous(h, 0)), "GET / HTTP/1.1\r\n");
  EXPECT_TRUE(pool.empty(h, 1));  // the other direction is its own window
}

TEST(WindowPool, AdvanceKeepsTheBytesPastTheConsumedUnit) {
  WindowPool pool(1, 64);
  WindowHandle h{};
  ASSERT_TRUE(pool.acquire(h));
  put(pool, h, 1, 0, "HEADER\r\n\r\nNEXT");
  put(pool, h, 1, 20, "LATER");  // out of order, after a hole
  pool.advance(h, 1, 10, 99);
  EXPECT_EQ(text(pool.contiguous(h, 1)), "NEXT");
  EXPECT_EQ(pool.first_ns(h, 1), 99u);
  put(pool, h, 1, 4, "______");
  EXPECT_EQ(text(pool.contiguous(h, 1)), "NEXT______LATER");
  // Advancing past everything (a body skipped by its length) empties the window.
  pool.advance(h, 1, 1000, 100);
  EXPECT_TRUE(pool.empty(h, 1));
}

TEST(WindowPool, CutsAtCapacityAndBoundsTheHoles) {
  WindowPool pool(1, 64);
  WindowHandle h{};
  ASSERT_TRUE(pool.acquire(h));
  put(pool, h, 0, 60, "abcdefgh");
  put(pool, h, 0, 0, std::string(60, 'x'));
  EXPECT_EQ(pool.contiguous(h, 0).size(), 64u);
  pool.clear(h, 0);
  for (uint32_t i = 0; i < WindowPool::kMaxRanges; ++i)
    EXPECT_TRUE(put(pool, h, 0, 2 + i * 3, "y"));
  EXPECT_FALSE(put(pool, h, 0, 40, "z"));  // a ninth hole is dropped, and counted
  EXPECT_EQ(pool.counters().ranges_dropped.value(), 1u);
  EXPECT_TRUE(put(pool, h, 0, 3, "y"));  // touching a piece merges with it: no new hole
}

TEST(WindowPool, EmptyPoolRefusesAndStaleHandlesReadNothing) {
  WindowPool pool(1, 64);
  WindowHandle a{}, b{};
  ASSERT_TRUE(pool.acquire(a));
  EXPECT_FALSE(pool.acquire(b));
  EXPECT_EQ(pool.counters().exhausted.value(), 1u);
  put(pool, a, 0, 0, "secret");
  WindowHandle stale = a;
  pool.release(a);
  EXPECT_EQ(pool.in_use(), 0u);
  ASSERT_TRUE(pool.acquire(b));
  EXPECT_TRUE(pool.empty(b, 0));  // a reused slot starts empty
  EXPECT_TRUE(pool.contiguous(stale, 0).empty());
  pool.release(stale);  // cannot free the new owner's slot
  EXPECT_EQ(pool.in_use(), 1u);
}

}  // namespace
}  // namespace wiremeter::http
