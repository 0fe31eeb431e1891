// quic: the bounded per-worker tables: connections, server names, versions, and the
// handshake slots in which a ClientHello spread over several CRYPTO frames or Initial packets
// is put back together.
//
// Every table has a fixed capacity chosen when the worker is made and allocates nothing after
// its constructor. Where a table is full, the rule for what gives way is part of its contract.
//
// Thread-safety: the tables do not lock. The owning worker writes them; fields marked "live"
// are written with relaxed atomic stores (std::atomic_ref) at any time and read the same way;
// everything else is written and read under the worker's lock (see Worker::lock()).
#pragma once

#include <array>
#include <atomic>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>
#include <wiremeter/slot_index.hpp>

#include "quic_crypto.hpp"
#include "quic_parser.hpp"

namespace wiremeter::quic {

// Relaxed single-writer access to a plain field that the control plane reads concurrently.
inline void live_store(uint64_t& field, uint64_t v) {
  std::atomic_ref<uint64_t>(field).store(v, std::memory_order_relaxed);
}
inline uint64_t live_load(const uint64_t& field) {
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(field)).load(std::memory_order_relaxed);
}
inline void live_add(uint64_t& field, uint64_t n) { live_store(field, live_load(field) + n); }

// An IPv4 or IPv6 address (IPv4 in the first 4 bytes, the rest zero).
struct Addr {
  std::array<uint8_t, 16> bytes{};
  uint8_t version = 0;
  bool operator==(const Addr& o) const { return version == o.version && bytes == o.bytes; }
};

uint64_t text_hash(std::string_view s);

// ---- Handshake slots -------------------------------------------------------------------------

inline constexpr size_t kCryptoBuffer = 4096;  // ClientHellos with post-quantum key shares
                                               // take ~1.8 KiB; 4 KiB leaves room
// One flow's CRYPTO stream while its ClientHello is incomplete, and the Initial keys that
// decrypted it (so later Initial packets need no new derivation).
struct HandshakeSlot {
  uint64_t flow_id = 0;
  uint64_t last_ns = 0;
  bool in_use = false;
  InitialKeys keys;
  uint32_t contiguous = 0;  // bytes [0, contiguous) of the stream are present
  std::array<uint8_t, kCryptoBuffer> data{};
  std::bitset<kCryptoBuffer> have;

  // Copies CRYPTO data at stream `offset`, clipped to the buffer; advances `contiguous`.
  void add(uint64_t offset, const uint8_t* bytes, size_t n);
};

// A fixed pool of HandshakeSlot. References are index + 1 (0 = none, as in zeroed flow state).
class HandshakePool {
 public:
  explicit HandshakePool(uint32_t capacity);
  // A cleared slot for `flow_id`, or 0 when every slot is taken.
  uint16_t acquire(uint64_t flow_id, uint64_t now_ns);
  // The slot if `ref` still belongs to `flow_id` (a slot freed by expiry may serve another).
  HandshakeSlot* get(uint16_t ref, uint64_t flow_id);
  void release(uint16_t ref, uint64_t flow_id);
  // Frees slots unused for `idle_ns`: a client that never completes its ClientHello must not
  // hold one for the whole life of its flow. Returns how many.
  uint32_t expire(uint64_t now_ns, uint64_t idle_ns);
  uint32_t in_use() const { return in_use_; }

 private:
  std::vector<HandshakeSlot> slots_;
  std::vector<uint16_t> free_;
  uint32_t in_use_ = 0;
};

// ---- Connections ---------------------------------------------------------------------------

enum class Decryption : uint8_t {
  kNotAttempted = 0,  // no client Initial seen (or only from the server side)
  kOk,                // a client Initial decrypted with the Initial keys
  kFailed,            // every attempt failed authentication
  kUnsupported,       // a version without known Initial salt
  kCleartext,         // gQUIC Q0xx < 50: the CHLO travels in clear
};
const char* decryption_name(Decryption d);

struct Connection {
  uint64_t flow_id = 0;
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;      // live
  uint64_t packets[2] = {};  // live; per direction (client, server), from the flow's counters
  uint64_t bytes[2] = {};    // live; frame bytes
  std::array<uint64_t, kPacketTypeCount> types{};  // live; QUIC packets by type
  Addr client, server;
  uint16_t client_port = 0, server_port = 0;
  uint32_t version = 0;
  uint32_t server_name_ref = 0;  // ServerNameTable reference, 0 = none
  uint8_t dcid_len = 0, scid_len = 0, server_scid_len = 0;
  bool server_scid_seen = false;
  bool active = false;
  bool has_hello = false;
  Decryption decryption = Decryption::kNotAttempted;
  uint8_t dcid[kMaxCid] = {}, scid[kMaxCid] = {}, server_scid[kMaxCid] = {};
  Hello hello;
};

// Connections by slot. A slot is held while its flow lives; ended connections stay visible
// until their slot is needed, oldest ended first. When every slot holds a live flow, a new
// connection gets no row (acquire() returns 0) and is counted by the caller.
class ConnectionTable {
 public:
  explicit ConnectionTable(uint32_t capacity);
  uint32_t acquire();  // reference (index + 1) of a cleared slot, or 0
  Connection& at(uint32_t ref) { return slots_[ref - 1]; }
  Connection* get(uint32_t ref, uint64_t flow_id);  // nullptr if the slot moved on
  void end(uint32_t ref);
  size_t capacity() const { return slots_.size(); }
  const Connection& slot(size_t i) const { return slots_[i]; }
  bool used(size_t i) const { return used_[i]; }
  // Calls fn(const Connection&) for every connection in the table (under the worker's lock).
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (used_[i]) fn(slots_[i]);
    }
  }
  uint64_t recycled() const { return recycled_; }
  // Connections active at or after this time all still have their slot: the latest last_ns of
  // a recycled connection, plus 1 (0: none recycled).
  uint64_t complete_from_ns() const { return complete_from_ns_; }

 private:
  std::vector<Connection> slots_;
  std::vector<uint8_t> used_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> ended_;  // ring of ended slots, oldest at ended_head_
  size_t ended_head_ = 0, ended_count_ = 0;
  uint64_t recycled_ = 0;
  uint64_t complete_from_ns_ = 0;
};

// ---- Server names --------------------------------------------------------------------------

struct ServerName {
  char name[kNameText] = {};
  uint64_t hash = 0;
  uint64_t connections = 0;
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;  // live
  uint64_t bytes = 0;    // live
};

// Server names (SNI) by name. When `capacity` names are known, further names count in other():
// the first names keep their rows; the control plane merges workers and ranks them.
class ServerNameTable {
 public:
  explicit ServerNameTable(uint32_t capacity);
  // Reference (index + 1; capacity + 1 is "other") of the row for `name`, created if new.
  uint32_t at(std::string_view name, uint64_t now_ns);
  ServerName& row(uint32_t ref) { return rows_[ref - 1]; }
  const ServerName& row_at(size_t i) const { return rows_[i]; }
  size_t size() const { return used_; }
  const ServerName& other() const { return rows_.back(); }
  uint64_t overflow() const { return overflow_; }

 private:
  std::vector<ServerName> rows_;  // capacity + 1: the last is "other"
  uint32_t used_ = 0;
  uint64_t overflow_ = 0;
  SlotIndex index_;
};

// ---- Versions ------------------------------------------------------------------------------

inline constexpr size_t kVersionSlots = 32;
// Connections per version. Written by the worker, read by the control plane at any time:
// atomics only. Versions past kVersionSlots count in the last slot, version "other".
struct VersionCounters {
  struct Row {
    std::atomic<uint32_t> version{0};
    std::atomic<bool> used{false};
    std::atomic<uint64_t> connections{0}, decrypted{0}, server_names{0};
    // The first connection's first datagram and the latest datagram of any connection.
    std::atomic<uint64_t> first_ns{0}, last_ns{0};
    // Only the worker writes: load and store, no read-modify-write needed.
    void seen(uint64_t ts_ns) {
      uint64_t first = first_ns.load(std::memory_order_relaxed);
      if (first == 0 || ts_ns < first) first_ns.store(ts_ns, std::memory_order_relaxed);
      if (ts_ns > last_ns.load(std::memory_order_relaxed)) {
        last_ns.store(ts_ns, std::memory_order_relaxed);
      }
    }
  };
  std::array<Row, kVersionSlots + 1> rows;  // the last: other
  // The version's slot in `rows`, taken if new (kVersionSlots: other).
  uint8_t slot(uint32_t version);
  Row& at(uint32_t version) { return rows[slot(version)]; }
};

}  // namespace wiremeter::quic
