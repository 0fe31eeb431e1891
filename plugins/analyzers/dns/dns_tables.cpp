// dns: bounded per-worker tables. See dns_tables.hpp.
#include "dns_tables.hpp"

#include <cstring>
#include <utility>

#include "dns_parser.hpp"

namespace wiremeter::dns {

size_t rtt_bucket(uint64_t rtt_us) {
  size_t b = 0;
  while (b < kRttBoundsUs.size() && rtt_us > kRttBoundsUs[b]) ++b;
  return b;
}

uint64_t Addr::hash() const {
  return name_hash(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())) ^
         version;
}

void StoredName::set(std::string_view s) {
  length = static_cast<uint16_t>(copy_text(text, sizeof text, s));
}

void Answers::add(std::string_view answer, uint32_t answer_ttl) {
  if (count == kMaxAnswers || bytes + answer.size() + 1 > kAnswerBytes) {
    truncated = true;
    return;
  }
  if (!answer.empty()) std::memcpy(text + bytes, answer.data(), answer.size());
  text[bytes + answer.size()] = '\0';
  bytes = static_cast<uint16_t>(bytes + answer.size() + 1);
  ttl[count++] = answer_ttl;
}

uint32_t Answers::min_ttl() const {
  uint32_t m = count ? ttl[0] : 0;
  for (uint8_t i = 1; i < count; ++i) m = ttl[i] < m ? ttl[i] : m;
  return m;
}

void ServerStats::add_rtt(uint64_t us) {
  if (rtt_count == 0 || us < rtt_min_us) rtt_min_us = us;
  if (us > rtt_max_us) rtt_max_us = us;
  ++rtt_count;
  rtt_sum_us += us;
  ++rtt[rtt_bucket(us)];
}

void ServerStats::merge(const ServerStats& o) {
  requests += o.requests;
  responses += o.responses;
  errors += o.errors;
  unanswered += o.unanswered;
  retransmissions += o.retransmissions;
  if (o.rtt_count) {
    if (rtt_count == 0 || o.rtt_min_us < rtt_min_us) rtt_min_us = o.rtt_min_us;
    if (o.rtt_max_us > rtt_max_us) rtt_max_us = o.rtt_max_us;
  }
  rtt_count += o.rtt_count;
  rtt_sum_us += o.rtt_sum_us;
  if (o.first_ns) seen(o.first_ns);
  if (o.last_ns) seen(o.last_ns);
  for (size_t i = 0; i < kRcodes; ++i) rcodes[i] += o.rcodes[i];
  for (size_t i = 0; i < kRttBuckets; ++i) rtt[i] += o.rtt[i];
}

ServerTable::ServerTable(uint32_t capacity) : rows_(capacity), index_(capacity) {}

ServerStats& ServerTable::at(const Addr& addr) {
  uint64_t h = addr.hash();
  uint32_t s = index_.find(h, [&](uint32_t slot) { return rows_[slot].addr == addr; });
  if (s != SlotIndex::kNil) return rows_[s];
  if (used_ == rows_.size()) return other_;
  s = used_++;
  rows_[s] = ServerStats{};
  rows_[s].addr = addr;
  index_.insert(s, h);
  return rows_[s];
}

NameTable::NameTable(uint32_t capacity) : entries_(capacity), index_(capacity) {}

void NameTable::unlink(uint32_t s) {
  Entry& e = entries_[s];
  if (e.newer != SlotIndex::kNil)
    entries_[e.newer].older = e.older;
  else
    newest_ = e.older;
  if (e.older != SlotIndex::kNil)
    entries_[e.older].newer = e.newer;
  else
    oldest_ = e.newer;
  e.newer = e.older = SlotIndex::kNil;
}

void NameTable::push_newest(uint32_t s) {
  Entry& e = entries_[s];
  e.newer = SlotIndex::kNil;
  e.older = newest_;
  if (newest_ != SlotIndex::kNil) entries_[newest_].newer = s;
  newest_ = s;
  if (oldest_ == SlotIndex::kNil) oldest_ = s;
}

void NameTable::update(std::string_view full_name, uint16_t type, const Answers& answers,
                       uint64_t ts_ns) {
  if (entries_.empty()) return;
  // Key on the text as stored, so that a name cut to kStoredName still finds its entry.
  StoredName key;
  key.set(full_name);
  std::string_view name = key.view();
  uint64_t h = name_hash(name) * 31 + type;
  uint32_t s = index_.find(h, [&](uint32_t slot) {
    return entries_[slot].type == type && entries_[slot].name.view() == name;
  });
  if (s == SlotIndex::kNil) {
    if (used_ < entries_.size()) {
      s = used_++;
    } else {
      s = oldest_;
      unlink(s);
      index_.erase(s);
      ++evicted_;
    }
    Entry& e = entries_[s];
    e.name = key;
    e.type = type;
    e.hash = h;
    e.count = 0;
    e.first_ns = ts_ns;
    index_.insert(s, h);
  } else {
    unlink(s);
  }
  Entry& e = entries_[s];
  ++e.count;
  e.last_ns = ts_ns;
  e.answers = answers;
  push_newest(s);
}

TopNames::TopNames(uint32_t capacity)
    : entries_(capacity), heap_(capacity), heap_pos_(capacity), index_(capacity) {}

void TopNames::swap_heap(uint32_t a, uint32_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_pos_[heap_[a]] = a;
  heap_pos_[heap_[b]] = b;
}

void TopNames::sift_up(uint32_t pos) {
  while (pos > 0) {
    uint32_t parent = (pos - 1) / 2;
    if (entries_[heap_[parent]].count <= entries_[heap_[pos]].count) return;
    swap_heap(parent, pos);
    pos = parent;
  }
}

void TopNames::sift_down(uint32_t pos) {
  for (;;) {
    uint32_t smallest = pos, l = 2 * pos + 1, r = l + 1;
    if (l < used_ && entries_[heap_[l]].count < entries_[heap_[smallest]].count) smallest = l;
    if (r < used_ && entries_[heap_[r]].count < entries_[heap_[smallest]].count) smallest = r;
    if (smallest == pos) return;
    swap_heap(pos, smallest);
    pos = smallest;
  }
}

void TopNames::add(std::string_view full_name, uint64_t ts_ns) {
  if (entries_.empty()) return;
  ++total_;
  StoredName key;  // see NameTable::update
  key.set(full_name);
  std::string_view name = key.view();
  uint64_t h = name_hash(name);
  uint32_t s = index_.find(h, [&](uint32_t slot) { return entries_[slot].name.view() == name; });
  if (s != SlotIndex::kNil) {
    ++entries_[s].count;
    if (ts_ns > entries_[s].last_ns) entries_[s].last_ns = ts_ns;
    sift_down(heap_pos_[s]);  // its count grew: it can only move away from the root
    return;
  }
  if (used_ < entries_.size()) {
    s = used_++;
    Entry& e = entries_[s];
    e.name.set(name);
    e.hash = h;
    e.count = 1;
    e.error = 0;
    e.first_ns = e.last_ns = ts_ns;
    heap_[s] = s;
    heap_pos_[s] = s;
    index_.insert(s, h);
    sift_up(s);
    return;
  }
  // Space-Saving: the new name replaces the least counted one and inherits its count.
  s = heap_[0];
  Entry& e = entries_[s];
  index_.erase(s);
  e.error = e.count;
  ++e.count;
  e.first_ns = e.last_ns = ts_ns;
  e.name.set(name);
  e.hash = h;
  index_.insert(s, h);
  sift_down(0);
}

uint32_t PendingPool::allocate() {
  uint32_t ref;
  if (free_) {
    ref = free_;
    free_ = slots_[ref - 1].next;
  } else if (high_water_ < slots_.size()) {
    ref = ++high_water_;
  } else {
    return 0;
  }
  PendingQuery& q = slots_[ref - 1];
  q.state = PendingQuery::kPending;
  q.next = 0;
  ++in_use_;
  return ref;
}

void PendingPool::release(uint32_t ref) {
  PendingQuery& q = slots_[ref - 1];
  if (q.state == PendingQuery::kFree) return;
  q.state = PendingQuery::kFree;
  q.next = free_;
  free_ = ref;
  --in_use_;
}

}  // namespace wiremeter::dns
