#include "http_tables.hpp"

#include <algorithm>

namespace wiremeter::http {

size_t rt_bucket(uint64_t us) {
  size_t b = 0;
  while (b < kRtBoundsUs.size() && us > kRtBoundsUs[b]) ++b;
  return b;
}

uint64_t hash_text(std::string_view s, uint64_t seed) {
  // FNV-1a, then a final mix so that the low bits (the bucket) depend on every byte.
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

uint64_t Addr::hash() const {
  return hash_text({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, version);
}

HostText host_key(std::string_view host) {
  HostText t;
  t.set(host);
  for (uint16_t i = 0; i < t.length; ++i) {
    char c = t.text[i];
    if (c >= 'A' && c <= 'Z') t.text[i] = static_cast<char>(c - 'A' + 'a');
  }
  return t;
}

void MessageStats::touch(uint64_t ts_ns) {
  if (first_ns == 0 || ts_ns < first_ns) first_ns = ts_ns;
  if (ts_ns > last_ns) last_ns = ts_ns;
}

void MessageStats::add_request(Method m, uint64_t ts_ns) {
  ++requests;
  ++methods[static_cast<size_t>(m) < kMethodCount ? static_cast<size_t>(m) : kMethodCount - 1];
  touch(ts_ns);
}

void MessageStats::add_response(uint16_t status, uint64_t ts_ns) {
  ++responses;
  if (status >= 100 && status <= 599) ++classes[status / 100 - 1];
  touch(ts_ns);
  for (Code& c : codes) {
    if (c.code == status) {
      ++c.count;
      return;
    }
    if (c.code == 0) {
      c.code = status;
      c.count = 1;
      return;
    }
  }
  ++codes_other;
}

void MessageStats::add_rt(uint64_t us) {
  if (rt_count == 0 || us < rt_min_us) rt_min_us = us;
  rt_max_us = std::max(rt_max_us, us);
  ++rt_count;
  rt_sum_us += us;
  ++rt[rt_bucket(us)];
}

void MessageStats::merge(const MessageStats& o) {
  requests += o.requests;
  responses += o.responses;
  for (size_t i = 0; i < kMethodCount; ++i) methods[i] += o.methods[i];
  for (size_t i = 0; i < kStatusClasses; ++i) classes[i] += o.classes[i];
  codes_other += o.codes_other;
  for (const Code& oc : o.codes) {
    if (oc.code == 0) break;
    bool placed = false;
    for (Code& c : codes) {
      if (c.code == oc.code || c.code == 0) {
        c.code = oc.code;
        c.count += oc.count;
        placed = true;
        break;
      }
    }
    if (!placed) codes_other += oc.count;
  }
  request_bytes += o.request_bytes;
  response_bytes += o.response_bytes;
  if (o.rt_count) {
    if (rt_count == 0 || o.rt_min_us < rt_min_us) rt_min_us = o.rt_min_us;
    rt_max_us = std::max(rt_max_us, o.rt_max_us);
  }
  rt_count += o.rt_count;
  rt_sum_us += o.rt_sum_us;
  for (size_t i = 0; i < kRtBuckets; ++i) rt[i] += o.rt[i];
  if (o.first_ns) touch(o.first_ns);
  if (o.last_ns) touch(o.last_ns);
}

ServerTable::ServerTable(uint32_t capacity) : rows_(capacity), index_(capacity) {}

MessageStats& ServerTable::at(const Addr& addr, uint16_t port, std::string_view host) {
  HostText key = host_key(host);
  uint64_t h = hash_text(key.view(), addr.hash() ^ port);
  uint32_t s = index_.find(h, [&](uint32_t i) {
    const ServerRow& r = rows_[i];
    return r.port == port && r.addr == addr && r.host.view() == key.view();
  });
  if (s != SlotIndex::kNil) return rows_[s].stats;
  if (used_ == rows_.size()) {
    ++overflow_;
    return other_;
  }
  ServerRow& r = rows_[used_];
  r.addr = addr;
  r.port = port;
  r.host = key;
  index_.insert(used_++, h);
  return r.stats;
}

HostTable::HostTable(uint32_t capacity) : rows_(capacity), index_(capacity) {}

MessageStats& HostTable::at(std::string_view host) {
  HostText key = host_key(host);
  uint64_t h = hash_text(key.view());
  uint32_t s = index_.find(h, [&](uint32_t i) { return rows_[i].host.view() == key.view(); });
  if (s != SlotIndex::kNil) return rows_[s].stats;
  if (used_ == rows_.size()) {
    ++overflow_;
    return other_;
  }
  HostRow& r = rows_[used_];
  r.host = key;
  index_.insert(used_++, h);
  return r.stats;
}

}  // namespace wiremeter::http
