#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>
#include <wiremeter/tcp_stream.hpp>
#include <wiremeter/testing/packet_builder.hpp>

namespace {

using wiremeter::TcpStreamHandle;
using wiremeter::TcpStreamPool;
using wiremeter::testing::BuiltPacket;
using wiremeter::testing::PacketBuilder;

constexpr uint8_t kSyn = 0x02, kAck = 0x10;

BuiltPacket segment(uint8_t dir, uint32_t seq, std::string_view payload, uint8_t flags = kAck) {
  BuiltPacket p = PacketBuilder()
                      .ipv4("198.18.0.1", "198.18.0.2")
                      .tcp(40000, 80, flags)
                      .seq(seq)
                      .payload(payload)
                      .build();
  p.view.direction = dir;
  return p;
}

std::string text(std::span<const uint8_t> s) { return std::string(s.begin(), s.end()); }

TEST(TcpStreamPool, ReordersOverlapsAndRetransmissionsIntoOneContiguousStream) {
  TcpStreamPool pool(4, 256);
  TcpStreamHandle h{};
  EXPECT_FALSE(pool.add(h, segment(0, 999, "", kSyn).view).grew);
  EXPECT_EQ(pool.in_use(), 1u);
  // "GET / HTTP/1.1\r\n" in three pieces: the last first, then an overlapping retransmission.
  auto u = pool.add(h, segment(0, 1010, "/1.1\r\n").view);
  EXPECT_TRUE(u.active);
  EXPECT_FALSE(u.grew);
  EXPECT_EQ(text(u.data), "");
  u = pool.add(h, segment(0, 1000, "GET / ").view);
  EXPECT_TRUE(u.grew);
  EXPECT_EQ(text(u.data), "GET / ");
  u = pool.add(h, segment(0, 1004, "ZZHTTP").view);  // overlap: the first copy of a byte wins
  EXPECT_EQ(text(u.data), "GET / HTTP/1.1\r\n");
  u = pool.add(h, segment(0, 1000, "GET / ").view);  // retransmission changes nothing
  EXPECT_FALSE(u.grew);
  EXPECT_EQ(text(pool.contiguous(h, 0)), "GET / HTTP/1.1\r\n");
  // The other direction is its own stream.
  u = pool.add(h, segment(1, 5000, "HTTP/1.1 200 OK").view);
  EXPECT_EQ(u.direction, 1);
  EXPECT_EQ(text(u.data), "HTTP/1.1 200 OK");
}

TEST(TcpStreamPool, KeepsOnlyTheFirstBytesAndSaysSo) {
  TcpStreamPool pool(1, 64);
  TcpStreamHandle h{};
  std::string a(60, 'a'), b(10, 'b');
  pool.add(h, segment(0, 1, a).view);
  auto u = pool.add(h, segment(0, 61, b).view);
  EXPECT_EQ(u.data.size(), 64u);
  EXPECT_TRUE(u.truncated);
  EXPECT_EQ(text(u.data), a + "bbbb");
  EXPECT_EQ(pool.counters().truncated.value(), 1u);
  // A segment wholly beyond the buffer is dropped, not written anywhere.
  u = pool.add(h, segment(0, 1000, "zzzz").view);
  EXPECT_EQ(u.data.size(), 64u);
}

TEST(TcpStreamPool, JoinsMidFlowAndTrimsDataBeforeTheStart) {
  TcpStreamPool pool(1, 128);
  TcpStreamHandle h{};
  pool.add(h, segment(0, 100, "world").view);
  auto u = pool.add(h, segment(0, 95, "hello").view);  // wholly before the start
  EXPECT_EQ(text(u.data), "world");
  u = pool.add(h, segment(0, 98, "xxworld!").view);  // straddles the start
  EXPECT_EQ(text(u.data), "world!");
  EXPECT_EQ(pool.counters().before_start.value(), 5u + 2u);
}

TEST(TcpStreamPool, SequenceNumbersWrapAround) {
  TcpStreamPool pool(1, 128);
  TcpStreamHandle h{};
  pool.add(h, segment(0, 0xfffffffeu, "", kSyn).view);
  pool.add(h, segment(0, 0xffffffffu, "ab").view);
  auto u = pool.add(h, segment(0, 1, "cd").view);
  EXPECT_EQ(text(u.data), "abcd");
}

TEST(TcpStreamPool, EmptyPoolRefusesAndReleasedSlotsAreReusedWithoutLeaking) {
  TcpStreamPool pool(1, 64);
  TcpStreamHandle first{}, second{};
  EXPECT_TRUE(pool.add(first, segment(0, 1, "one").view).active);
  EXPECT_FALSE(pool.add(second, segment(0, 1, "two").view).active);
  EXPECT_EQ(second.slot, TcpStreamHandle::kRefused);
  EXPECT_EQ(pool.counters().exhausted.value(), 1u);

  TcpStreamHandle stale = first;
  pool.release(first);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_FALSE(pool.add(first, segment(0, 4, "more").view).active);  // released stays released

  TcpStreamHandle third{};
  auto u = pool.add(third, segment(0, 7, "three").view);
  EXPECT_EQ(text(u.data), "three");                // the reused slot starts empty
  EXPECT_TRUE(pool.contiguous(stale, 0).empty());  // a stale handle cannot read the new owner
  pool.release(stale);                             // and cannot free it
  EXPECT_EQ(pool.in_use(), 1u);
}

TEST(TcpStreamPool, PureAcksAndOtherProtocolsTakeNoSlot) {
  TcpStreamPool pool(2, 64);
  TcpStreamHandle h{};
  EXPECT_FALSE(pool.add(h, segment(0, 1, "").view).active);
  BuiltPacket udp = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).payload("x").build();
  EXPECT_FALSE(pool.add(h, udp.view).active);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TcpStreamPool, EachDirectionHasItsOwnSize) {
  TcpStreamPool pool(2, 64, 200);  // the reverse size rounds up to 256
  EXPECT_EQ(pool.capacity(), 64u);
  EXPECT_EQ(pool.capacity(0), 64u);
  EXPECT_EQ(pool.capacity(1), 256u);
  TcpStreamHandle h{}, other{};
  std::string big(300, 'r');
  auto u = pool.add(h, segment(0, 1, std::string(100, 'f')).view);
  EXPECT_EQ(u.data.size(), 64u);
  EXPECT_TRUE(u.truncated);
  u = pool.add(h, segment(1, 1, big).view);
  EXPECT_EQ(u.data.size(), 256u);
  EXPECT_TRUE(u.truncated);
  // The second slot's buffers do not overlap the first's.
  u = pool.add(other, segment(1, 1, "second").view);
  EXPECT_EQ(text(u.data), "second");
  EXPECT_EQ(text(pool.contiguous(h, 1)), std::string(256, 'r'));
  EXPECT_EQ(text(pool.contiguous(h, 0)), std::string(64, 'f'));
  EXPECT_EQ(pool.counters().truncated.value(), 2u);
}

TEST(TcpStreamPool, AdvanceMovesTheWindowAndLaterSegmentsLandFromTheNewStart) {
  TcpStreamPool pool(1, 64);
  TcpStreamHandle h{};
  pool.add(h, segment(0, 999, "", kSyn).view);
  std::string first = "GET /a HTTP/1.1\r\n\r\n";  // 19 bytes, then the next request's start
  auto u = pool.add(h, segment(0, 1000, first + "GET /b").view);
  EXPECT_EQ(text(u.data), first + "GET /b");
  pool.add(h, segment(0, 1036, "held").view);  // past a hole: kept across the move
  pool.advance(h, 0, first.size());
  EXPECT_EQ(text(pool.contiguous(h, 0)), "GET /b");
  u = pool.add(h, segment(0, 1025, " HTTP/1.1\r\n").view);  // lands relative to the new start
  EXPECT_EQ(text(u.data), "GET /b HTTP/1.1\r\nheld");
  // Skipping a body longer than the buffer: the window continues past it, and the segments
  // after it fill a buffer whose first bytes were never seen.
  pool.advance(h, 0, u.data.size() + 1000);
  EXPECT_TRUE(pool.empty(h, 0));
  EXPECT_TRUE(pool.contiguous(h, 0).empty());
  u = pool.add(h, segment(0, 1000 + 19 + 21 + 1000, std::string(60, 'x') + "tail").view);
  EXPECT_EQ(text(u.data), std::string(60, 'x') + "tail");
  EXPECT_FALSE(u.truncated);
  // A window that went past its buffer is no longer truncated once it moved.
  u = pool.add(h, segment(0, 1000 + 19 + 21 + 1000 + 64, "over").view);
  EXPECT_TRUE(u.truncated);
  pool.advance(h, 0, 60);
  EXPECT_EQ(text(pool.contiguous(h, 0)), "tail");
  u = pool.add(h, segment(0, 1000 + 19 + 21 + 1000 + 64, "over").view);
  EXPECT_FALSE(u.truncated);
  EXPECT_EQ(text(u.data), "tailover");
  EXPECT_EQ(pool.counters().truncated.value(), 1u);
}

TEST(TcpStreamPool, ParsersThatFollowSequenceNumbersStoreAtOffsets) {
  TcpStreamPool pool(1, 64);
  TcpStreamHandle h{};
  EXPECT_TRUE(pool.empty(h, 0));
  EXPECT_FALSE(pool.holds(h));
  auto put = [&](int dir, uint32_t off, std::string_view s, uint64_t ns) {
    return text(pool.store(h, dir, off, reinterpret_cast<const uint8_t*>(s.data()),
                           static_cast<uint32_t>(s.size()), ns));
  };
  EXPECT_EQ(put(0, 0, "nothing", 1), "");  // no slot: nothing stored
  ASSERT_TRUE(pool.acquire(h));
  EXPECT_TRUE(pool.holds(h));
  EXPECT_EQ(pool.in_use(), 1u);
  EXPECT_EQ(put(0, 6, "HTTP/1.1", 20), "");
  EXPECT_FALSE(pool.empty(h, 0));
  EXPECT_EQ(put(0, 0, "GET / ", 30), "GET / HTTP/1.1");
  EXPECT_EQ(pool.first_ns(h, 0), 30u);  // when the window's first byte was put in place
  EXPECT_EQ(put(0, 4, "XXXXXXXXXX\r\n", 40), "GET / HTTP/1.1\r\n");  // the first copy wins
  EXPECT_EQ(pool.first_ns(h, 0), 30u);
  EXPECT_TRUE(pool.empty(h, 1));  // the other direction is its own window
  pool.advance(h, 0, 6, 50);
  EXPECT_EQ(text(pool.contiguous(h, 0)), "HTTP/1.1\r\n");
  EXPECT_EQ(pool.first_ns(h, 0), 50u);  // moved onto a byte present
  pool.clear(h, 0);
  EXPECT_TRUE(pool.empty(h, 0));
  EXPECT_EQ(pool.first_ns(h, 0), 0u);
  EXPECT_EQ(put(0, 60, "abcdefgh", 60), "");  // cut at the buffer's end
  EXPECT_EQ(pool.counters().truncated.value(), 1u);
  EXPECT_EQ(put(0, 0, std::string(60, 'y'), 70), std::string(60, 'y') + "abcd");
  // Released, a handle can be given a slot again explicitly (add() would not take one).
  pool.release(h);
  EXPECT_EQ(h.slot, TcpStreamHandle::kRefused);
  EXPECT_FALSE(pool.holds(h));
  EXPECT_EQ(pool.in_use(), 0u);
  ASSERT_TRUE(pool.acquire(h));
  EXPECT_TRUE(pool.empty(h, 0));  // the slot comes back empty
  EXPECT_EQ(pool.first_ns(h, 0), 0u);
  TcpStreamHandle other{};
  EXPECT_FALSE(pool.acquire(other));
  EXPECT_EQ(pool.counters().exhausted.value(), 1u);
  EXPECT_EQ(pool.counters().taken.value(), 2u);
}

// Random pieces and moves against a plain model of the window: every byte's first copy, by
// stream position.
TEST(TcpStreamPool, AdvanceAgreesWithAModelOfTheWindow) {
  constexpr uint32_t kCap = 320;  // five bitmap words: moves by any amount cross words
  TcpStreamPool pool(1, kCap, 128);
  TcpStreamHandle h{};
  ASSERT_TRUE(pool.acquire(h));
  std::mt19937 rng(7);
  std::vector<std::optional<uint8_t>> model;  // from the window's start
  uint64_t first_ns = 0;
  for (int step = 0; step < 20000; ++step) {
    uint64_t now = static_cast<uint64_t>(step) + 1;
    if (rng() % 4 == 0) {
      uint32_t n = rng() % 3 == 0 ? rng() % 700 : rng() % 90;
      pool.advance(h, 0, n, now);
      if (n >= model.size()) {
        model.clear();
      } else {
        model.erase(model.begin(), model.begin() + n);
        if (n && model[0]) first_ns = now;
      }
    } else {
      uint32_t off = rng() % (kCap + 40), len = 1 + rng() % 100;
      std::vector<uint8_t> data(len);
      for (auto& b : data) b = static_cast<uint8_t>(rng());
      bool had_start = !model.empty() && model[0];
      pool.store(h, 0, off, data.data(), len, now);
      for (uint32_t i = 0; i < len && off + i < kCap; ++i) {
        if (model.size() <= off + i) model.resize(off + i + 1);
        if (!model[off + i]) model[off + i] = data[i];
      }
      if (!had_start && !model.empty() && model[0]) first_ns = now;
    }
    while (!model.empty() && !model.back()) model.pop_back();
    std::string want;
    for (const auto& b : model) {
      if (!b) break;
      want.push_back(static_cast<char>(*b));
    }
    ASSERT_EQ(text(pool.contiguous(h, 0)), want) << "step " << step;
    ASSERT_EQ(pool.empty(h, 0), model.empty()) << "step " << step;
    if (!want.empty()) {
      ASSERT_EQ(pool.first_ns(h, 0), first_ns) << "step " << step;
    }
  }
  EXPECT_TRUE(pool.empty(h, 1));
}

}  // namespace
