// Tests of the per-worker tables: the host index and its overflow bucket, the snapshot the
// control plane reads, Space-Saving peers, label slots and the bounded LRU name table.
#include "host_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wiremeter::ip {
namespace {

Address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t bytes[4] = {a, b, c, d};
  return Address::of(4, bytes);
}

std::vector<HostEntry> published(const HostTable& t) {
  std::vector<HostEntry> out;
  t.read([&](std::span<const HostEntry> c) { out.insert(out.end(), c.begin(), c.end()); },
         [](const HostEntry&) {});
  return out;
}

TEST(HostTable, UpsertFindAndFull) {
  HostTable t(3);
  Address a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2), c = v4(10, 0, 0, 3), d = v4(10, 0, 0, 4);
  uint32_t ia = t.upsert(a, a.hash(), 100);
  EXPECT_EQ(t.upsert(a, a.hash(), 50), ia);  // same entry; first_seen moves back
  EXPECT_EQ(t.at(ia).first_ns, 50u);
  EXPECT_EQ(t.at(ia).last_ns, 100u);
  EXPECT_NE(t.upsert(b, b.hash(), 1), HostTable::kNone);
  EXPECT_NE(t.upsert(c, c.hash(), 1), HostTable::kNone);
  EXPECT_EQ(t.upsert(d, d.hash(), 1), HostTable::kNone);  // full
  EXPECT_EQ(t.find(d, d.hash()), HostTable::kNone);
  EXPECT_EQ(t.find(b, b.hash()), 1u);
  EXPECT_EQ(t.size(), 3u);
  // IPv4 10.0.0.1 and the IPv6 address with the same first bytes are different hosts.
  HostTable t6(4);
  uint8_t six[16] = {10, 0, 0, 1};
  Address a6 = Address::of(6, six);
  EXPECT_NE(t6.upsert(a, a.hash(), 1), t6.upsert(a6, a6.hash(), 1));
}

TEST(HostTable, SnapshotHoldsWhatWasPublished) {
  HostTable t(8);
  Address a = v4(192, 0, 2, 1);
  uint32_t i = t.upsert(a, a.hash(), 1);
  t.at(i).packets_out = 5;
  t.touch(i);
  EXPECT_TRUE(published(t).empty());  // nothing until the worker publishes
  t.publish();
  auto snap = published(t);
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].packets_out, 5u);
  EXPECT_EQ(snap[0].dirty, 0);
  t.at(i).packets_out = 7;  // changed but not touched: the snapshot keeps the old value
  t.publish();
  EXPECT_EQ(published(t)[0].packets_out, 5u);
  t.touch(i);
  t.publish();
  EXPECT_EQ(published(t)[0].packets_out, 7u);
  t.other().bytes_in = 99;
  t.publish();
  uint64_t other_bytes = 0;
  t.read([](std::span<const HostEntry>) {}, [&](const HostEntry& o) { other_bytes = o.bytes_in; });
  EXPECT_EQ(other_bytes, 99u);
}

TEST(HostEntry, SpaceSavingPeers) {
  HostEntry e{};
  for (uint32_t p = 0; p < kPeers; ++p) e.add_peer(p, 100 * (p + 1));
  e.add_peer(0, 1000);  // peer 0: 1100
  e.add_peer(9, 5);     // takes over the smallest slot (peer 1, 200) and inherits its bytes
  EXPECT_EQ(e.peer_count, kPeers);
  EXPECT_EQ(e.peer[1], 9u);
  EXPECT_EQ(e.peer_bytes[1], 205u);
  EXPECT_EQ(e.peer_bytes[0], 1100u);
}

TEST(HostEntry, LabelsAndPeerEstimate) {
  HostEntry e{};
  for (uint16_t l = 1; l <= kLabels + 2; ++l) e.add_label(l, 10);
  e.add_label(1, 5);
  EXPECT_EQ(e.label_count, kLabels);
  EXPECT_EQ(e.label_bytes[0], 15u);
  EXPECT_EQ(e.other_label_bytes, 20u);
  EXPECT_EQ(HostEntry::estimate_peers(0), 0u);
  EXPECT_EQ(HostEntry::estimate_peers(0b101), 2u);
  EXPECT_GE(HostEntry::estimate_peers(~0ull), 64u);
}

TEST(NameTable, DedupesAndEvictsLeastRecent) {
  NameTable t(2);
  Address a = v4(1, 1, 1, 1), b = v4(2, 2, 2, 2);
  t.learn(a, NameSource::kDns, "one.example", 10);
  t.learn(a, NameSource::kDns, "one.example", 20);
  t.learn(a, NameSource::kSni, "one.example", 30);  // another source: its own entry
  EXPECT_EQ(t.size(), 2u);
  t.learn(a, NameSource::kDns, "one.example", 40);  // the DNS entry is now the newest
  t.learn(b, NameSource::kDhcp, "two", 50);         // evicts the SNI entry
  EXPECT_EQ(t.evicted(), 1u);
  std::vector<std::string> seen;
  uint64_t dns_count = 0;
  t.for_each([&](const NameTable::Entry& e) {
    seen.emplace_back(e.name());
    if (e.source == NameSource::kDns) dns_count = e.count;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"two", "one.example"}));
  EXPECT_EQ(dns_count, 3u);
  // Evicted entries leave the index too: learning the SNI name again makes a fresh entry.
  t.learn(a, NameSource::kSni, "one.example", 60);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.evicted(), 2u);
}

}  // namespace
}  // namespace wiremeter::ip
