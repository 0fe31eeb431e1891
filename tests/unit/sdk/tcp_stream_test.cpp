#include <gtest/gtest.h>

#include <string>
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

}  // namespace
