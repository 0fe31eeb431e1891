// dhcp: the bounded per-worker tables behind the plugin (clients, servers, leases, open
// transactions), the records they hold, and the cross-worker request clock.
//
// Every table has a fixed capacity chosen when the worker is made and allocates nothing after
// its constructor, so the data path never touches the heap and memory stays bounded whatever
// the traffic. When a table is full, its least recently updated entry gives way (and is
// counted), so the tables show the network as it is now.
//
// DHCP spreads one exchange over several flows (a DISCOVER to 255.255.255.255, an OFFER to the
// offered address, ...), which symmetric RSS may hand to different workers. So every value that
// the control plane merges carries the time it was learned: the merge keeps the latest (or, where
// Zeek keeps the first, the earliest) over the workers.
//
// Thread-safety: the tables do not lock; the worker that owns them guards the ones the control
// plane reads (see Worker::lock()). RequestClock is shared by all workers and lock-free.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dhcp_parser.hpp"

namespace wiremeter::dhcp {

// Text from the wire, made safe for JSON and logs: printable ASCII is kept, every other byte
// becomes \xHH (as Zeek writes them), trailing NULs (C strings in option 12) are dropped. Cut at
// N - 1 bytes, never inside an escape.
template <size_t N>
struct Text {
  uint16_t length = 0;
  std::array<char, N> text{};
  void set(const uint8_t* data, size_t len) noexcept {
    while (len && data[len - 1] == 0) --len;
    static constexpr char kHex[] = "0123456789abcdef";
    size_t out = 0;
    for (size_t i = 0; i < len; ++i) {
      uint8_t c = data[i];
      if (c >= 0x20 && c < 0x7f) {
        if (out + 1 > N - 1) break;
        text[out++] = static_cast<char>(c);
      } else {
        if (out + 4 > N - 1) break;
        text[out++] = '\\';
        text[out++] = 'x';
        text[out++] = kHex[c >> 4];
        text[out++] = kHex[c & 15];
      }
    }
    length = static_cast<uint16_t>(out);
  }
  void set(std::string_view s) noexcept {
    set(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  void set(const Bytes& b) noexcept { set(b.data, b.len); }
  std::string_view view() const { return {text.data(), length}; }
};
using ShortText = Text<64>;

// A value and when it was learned (ts 0 = never).
template <typename T>
struct Stamped {
  T value{};
  uint64_t ts = 0;
  bool known() const { return ts != 0; }
  void set(const T& v, uint64_t at) {
    value = v;
    ts = at;
  }
  // The later of two values (ties: `o`).
  void merge_latest(const Stamped& o) {
    if (o.known() && (!known() || o.ts >= ts)) *this = o;
  }
  void merge_earliest(const Stamped& o) {
    if (o.known() && (!known() || o.ts < ts)) *this = o;
  }
};

// Option 55: the option codes a client asks for, in its order (an OS fingerprint).
struct ParamList {
  uint8_t count = 0;
  std::array<uint8_t, 48> codes{};
  void set(const Bytes& b) {
    count = 0;
    for (uint8_t i = 0; i < b.len && count < codes.size(); ++i) codes[count++] = b.data[i];
  }
};

// Response-time histogram bounds in microseconds (1 ms ... 10 s): a server on the segment
// answers in a few ms; a relayed one or one that pings the address first (ISC dhcpd) in hundreds.
inline constexpr std::array<uint64_t, 11> kRttBoundsUs = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 10000000};
inline constexpr size_t kRttBuckets = kRttBoundsUs.size() + 1;

struct ResponseStats {
  uint64_t count = 0, sum_us = 0, min_us = 0, max_us = 0;
  std::array<uint64_t, kRttBuckets> buckets{};  // per bucket, not cumulative
  void add(uint64_t us);
  void merge(const ResponseStats& o);
};

// Distinct MACs in 1024 bits (linear counting): exact enough for a few hundred, mergeable over
// workers by OR, and 128 bytes.
struct DistinctMacs {
  std::array<uint64_t, 16> bits{};
  void add(uint64_t mac);
  void merge(const DistinctMacs& o) {
    for (size_t i = 0; i < bits.size(); ++i) bits[i] |= o.bits[i];
  }
  uint64_t estimate() const;
};

uint64_t mix64(uint64_t x);

// A fixed-capacity map from a 64-bit key to Entry (which has a `uint64_t key`), with a list in
// update order. upsert() on a full table replaces the least recently touched entry.
template <typename Entry>
class LruTable {
 public:
  static constexpr uint32_t kNil = UINT32_MAX;
  explicit LruTable(uint32_t capacity)
      : entries_(capacity ? capacity : 1),
        next_(entries_.size(), kNil),
        newer_(entries_.size(), kNil),
        older_(entries_.size(), kNil) {
    uint64_t buckets = 16;
    while (buckets < 2ull * entries_.size()) buckets <<= 1;
    heads_.assign(buckets, kNil);
    mask_ = buckets - 1;
  }

  Entry* find(uint64_t key) noexcept {
    uint32_t s = slot_of(key);
    return s == kNil ? nullptr : &entries_[s];
  }
  // The entry for `key`, made most recent; a new one (value-initialized, key set) when absent.
  // `evicted` counts the entries that gave way.
  Entry& upsert(uint64_t key, bool& created) noexcept {
    uint32_t s = slot_of(key);
    created = s == kNil;
    if (s == kNil) {
      if (used_ < entries_.size()) {
        s = used_++;
      } else {
        s = oldest_;
        erase_slot(s);
        ++evicted_;
      }
      entries_[s] = Entry{};
      entries_[s].key = key;
      uint64_t b = mix64(key) & mask_;
      next_[s] = heads_[b];
      heads_[b] = s;
      ++size_;
    } else {
      unlink(s);
    }
    push_newest(s);
    return entries_[s];
  }
  void erase(uint64_t key) noexcept {
    uint32_t s = slot_of(key);
    if (s == kNil) return;
    erase_slot(s);
    free_push(s);
  }
  bool full() const { return size_ == entries_.size(); }
  size_t size() const { return size_; }
  uint64_t evicted() const { return evicted_; }
  const Entry* oldest() const { return oldest_ == kNil ? nullptr : &entries_[oldest_]; }
  // Most recently updated first.
  template <typename F>
  void for_each(F&& visit) const {
    for (uint32_t s = newest_; s != kNil; s = older_[s]) visit(entries_[s]);
  }

 private:
  uint32_t slot_of(uint64_t key) const noexcept {
    for (uint32_t s = heads_[mix64(key) & mask_]; s != kNil; s = next_[s]) {
      if (entries_[s].key == key) return s;
    }
    return kNil;
  }
  void unlink(uint32_t s) noexcept {
    if (newer_[s] != kNil) {
      older_[newer_[s]] = older_[s];
    } else {
      newest_ = older_[s];
    }
    if (older_[s] != kNil) {
      newer_[older_[s]] = newer_[s];
    } else {
      oldest_ = newer_[s];
    }
    newer_[s] = older_[s] = kNil;
  }
  void push_newest(uint32_t s) noexcept {
    newer_[s] = kNil;
    older_[s] = newest_;
    if (newest_ != kNil) newer_[newest_] = s;
    newest_ = s;
    if (oldest_ == kNil) oldest_ = s;
  }
  // Removes slot s from its hash chain and the update list; the slot is free afterwards.
  void erase_slot(uint32_t s) noexcept {
    uint32_t* link = &heads_[mix64(entries_[s].key) & mask_];
    while (*link != kNil && *link != s) link = &next_[*link];
    if (*link == s) *link = next_[s];
    next_[s] = kNil;
    unlink(s);
    --size_;
  }
  // Erased slots are reused before the table grows past them: move the last used slot into
  // the hole, so that [0, used_) stays dense.
  void free_push(uint32_t s) noexcept {
    uint32_t last = --used_;
    if (s == last) return;
    uint64_t key = entries_[last].key;
    bool was_newest = newest_ == last;
    uint32_t newer = newer_[last], older = older_[last];
    // Re-link `last` under slot s.
    uint32_t* link = &heads_[mix64(key) & mask_];
    while (*link != last) link = &next_[*link];
    *link = s;
    next_[s] = next_[last];
    next_[last] = kNil;
    entries_[s] = entries_[last];
    newer_[s] = newer;
    older_[s] = older;
    if (newer != kNil) older_[newer] = s;
    if (older != kNil) newer_[older] = s;
    if (was_newest) newest_ = s;
    if (oldest_ == last) oldest_ = s;
    newer_[last] = older_[last] = kNil;
  }

  std::vector<Entry> entries_;
  std::vector<uint32_t> next_, newer_, older_, heads_;
  uint64_t mask_ = 0;
  uint32_t used_ = 0, size_ = 0;
  uint32_t newest_ = kNil, oldest_ = kNil;
  uint64_t evicted_ = 0;
};

// One client, by MAC (chaddr for Ethernet, else the Ethernet address in option 61).
struct ClientEntry {
  uint64_t key = 0;  // the MAC
  uint64_t first_ns = 0, last_ns = 0;
  std::array<uint64_t, kTypeCount> messages{};  // by type index
  Stamped<uint8_t> last_type;
  Stamped<ShortText> host_name, client_fqdn, vendor_class, client_id;
  Stamped<ParamList> params;
  Stamped<uint32_t> requested_ip;  // option 50 of its latest request
  Stamped<uint32_t> client_ip;     // a source address or ciaddr it used (not 0.0.0.0)
  Stamped<uint32_t> offered_ip;    // yiaddr of the latest OFFER
  Stamped<uint32_t> assigned_ip;   // yiaddr of the latest ACK
  Stamped<uint32_t> lease_time;    // with the ACK (0xffffffff: infinite)
  Stamped<uint32_t> server;        // the server of the latest ACK
  Stamped<uint32_t> relay;         // giaddr of relayed messages
  Stamped<ShortText> circuit_id, remote_id;
};

// One server, by its server identifier (option 54), else the reply's source address.
struct ServerEntry {
  uint64_t key = 0;  // the server's address
  uint64_t first_ns = 0, last_ns = 0;
  uint64_t offers = 0, acks = 0, naks = 0, other = 0;
  std::array<uint64_t, kTypeCount> messages{};  // every message it sent, by type index
  uint64_t leases_granted = 0;  // ACKs with an address (not those answering an INFORM)
  DistinctMacs clients;         // MACs it sent an OFFER, ACK or NAK to
  ResponseStats discover_offer, request_ack;
  Stamped<uint32_t> source;  // the latest source address (a relay's, when relayed)
  // What it hands out, from its latest OFFER or ACK.
  Stamped<uint32_t> subnet_mask, lease_time;
  Stamped<AddrList> routers, dns_servers;
  Stamped<ShortText> domain;
};

// One lease, by IP: the latest ACK that handed it out, and whether it was given back.
struct LeaseEntry {
  uint64_t key = 0;  // the address
  uint64_t mac = 0;
  uint64_t start_ns = 0;  // the ACK's time; 0 when only a RELEASE or DECLINE was seen
  uint32_t lease_time = 0;
  bool has_lease_time = false;
  uint32_t server = 0;
  ShortText host_name;    // option 12 of the ACK, else the client's latest known
  uint64_t renewals = 0;  // further ACKs of the same address to the same MAC
  uint64_t released_ns = 0, declined_ns = 0;
};

// Zeek groups the messages of one transaction id into one dhcp.log record; so does the
// transaction log. kMaxTxMessages is Zeek's max_msg_types_per_log_entry.
inline constexpr size_t kMaxTxMessages = 50;

struct Transaction {
  uint64_t key = 0;  // the xid
  uint64_t first_ns = 0, last_ns = 0;
  bool open = false;  // not yet closed by the idle / age rules (see Worker)
  bool full = false;  // closed at kMaxTxMessages; the next message starts a new one
  uint8_t messages = 0;
  std::array<uint64_t, kMaxTxMessages> msg_ts{};
  std::array<uint8_t, kMaxTxMessages> msg_type{};
  // Zeek's fields, with the rules of base/protocols/dhcp/main.zeek (see Plugin::merge).
  Stamped<uint32_t> client_addr_sent;      // latest client message from an address
  Stamped<uint32_t> client_addr_assigned;  // the first reply's yiaddr
  Stamped<uint32_t> server_addr;           // latest reply with a yiaddr: its source
  Stamped<uint64_t> mac_client_id, mac_reply, mac_chaddr;
  Stamped<ShortText> host_name, client_fqdn, domain, client_message, server_message;
  Stamped<uint32_t> requested_addr, assigned_addr, lease_time;
  // More than Zeek logs: what tcpdump shows of the options.
  Stamped<uint32_t> server_id, subnet_mask, relay;
  Stamped<AddrList> routers, dns_servers;
  Stamped<ParamList> params;
  Stamped<ShortText> vendor_class;
};

// The time of the latest DISCOVER and REQUEST per transaction id, shared by all workers: the
// OFFER or ACK that answers may arrive on another worker (another flow). One 64-bit word per
// slot (xid in the high half, time in 10-microsecond units modulo 2^32 in the low half), so that
// a read never sees half of another worker's write. A slot shared by two xids keeps the latest;
// the other's answer then goes untimed, which the caller counts.
class RequestClock {
 public:
  enum Kind : uint8_t { kDiscover = 0, kRequest = 1 };
  explicit RequestClock(uint32_t slots);
  void record(Kind kind, uint32_t xid, uint64_t ts_ns) noexcept;
  // The time from the request to ts_ns in microseconds, or -1 when no request of that xid is
  // known or it is older than a minute.
  int64_t elapsed_us(Kind kind, uint32_t xid, uint64_t ts_ns) const noexcept;

 private:
  size_t slot(Kind kind, uint32_t xid) const noexcept;
  std::vector<std::atomic<uint64_t>> slots_;
  uint64_t mask_;
};

}  // namespace wiremeter::dhcp
