// voip: the bounded per-worker tables: calls by Call-ID, RTP streams by SSRC and 5-tuple, and
// the media endpoints that SDP announced.
//
// Every table has a fixed capacity chosen when the worker is made and allocates nothing after
// its constructor. Calls and streams give way least recently active first (the newest are what
// an operator looks at); the plugin counts what was pushed out.
//
// Thread-safety: none of these types locks; the worker that owns them guards them (see
// Worker::lock()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "voip_rtp.hpp"
#include "voip_sip.hpp"

namespace wiremeter::voip {

uint64_t hash_bytes(const void* data, size_t len, uint64_t seed = 0);
uint64_t hash_addr_port(const Addr& a, uint16_t port);

// Text copied into a fixed buffer: cut at N - 1 bytes on a character boundary, control
// characters (the CR/LF of folded headers) as spaces, and invalid UTF-8 bytes as '?', so that
// it always goes into JSON as valid text.
template <size_t N>
struct Text {
  uint16_t length = 0;
  char text[N] = {};
  void set(std::string_view s);
  std::string_view view() const { return {text, length}; }
};
size_t copy_text(std::string_view s, char* out, size_t capacity);
template <size_t N>
void Text<N>::set(std::string_view s) {
  length = static_cast<uint16_t>(copy_text(s, text, N));
}

// Slot bookkeeping shared by the tables: a chained hash index, a free list and an LRU list over
// the slots [0, capacity) of a caller-owned array.
class LruIndex {
 public:
  static constexpr uint32_t kNil = UINT32_MAX;
  explicit LruIndex(uint32_t capacity);

  template <typename Eq>
  uint32_t find(uint64_t hash, Eq&& same) const {
    for (uint32_t s = heads_[hash & mask_]; s != kNil; s = next_[s]) {
      if (hashes_[s] == hash && same(s)) return s;
    }
    return kNil;
  }
  // A free slot, else the least recently used one (then `evicted` is set and the caller must
  // deal with the old entry before overwriting it). The slot is indexed under `hash` and made
  // the most recent.
  uint32_t allocate(uint64_t hash, bool& evicted);
  void touch(uint32_t slot);
  void release(uint32_t slot);
  bool in_use(uint32_t slot) const { return slot < used_.size() && used_[slot]; }
  uint32_t size() const { return size_; }
  uint32_t capacity() const { return static_cast<uint32_t>(used_.size()); }
  uint32_t oldest() const { return oldest_; }  // the slot allocate() would evict when full
  // Most recently used first.
  template <typename F>
  void for_each(F&& visit) const {
    for (uint32_t s = newest_; s != kNil; s = older_[s]) visit(s);
  }

 private:
  void unlink_lru(uint32_t slot);
  void unlink_hash(uint32_t slot);

  uint64_t mask_;
  std::vector<uint32_t> heads_, next_, newer_, older_;
  std::vector<uint64_t> hashes_;
  std::vector<uint8_t> used_;
  uint32_t newest_ = kNil, oldest_ = kNil, free_ = kNil, size_ = 0;
};

// ---- calls -------------------------------------------------------------------------------

enum class CallState : uint8_t {
  kCalling = 0,  // INVITE sent, nothing back yet
  kTrying,       // 100 Trying
  kRinging,      // 180 Ringing or 183 Session Progress
  kEstablished,  // 2xx to the INVITE
  kCompleted,    // BYE after the call was established
  kFailed,       // a final response >= 300 to the INVITE
  kCancelled,    // the caller sent CANCEL before a final answer
  kCount,
};
inline constexpr size_t kCallStateCount = static_cast<size_t>(CallState::kCount);
const char* call_state_name(CallState s);

enum class Side : uint8_t { kCaller = 0, kCallee = 1 };

struct MediaEndpoint {
  Addr addr;
  uint16_t port = 0;
  Side side = Side::kCaller;
  MediaKind kind = MediaKind::kAudio;
};

// One request of the call and its final answer, to tell retransmissions from new requests.
struct SipTransaction {
  Method method = Method::kOther;
  uint32_t cseq = 0;
  uint16_t final_code = 0;  // 0 until a final response
  uint64_t first_ns = 0;    // first transmission of the request
};

inline constexpr size_t kCallIdLen = 128, kUriLen = 128, kTagLen = 64, kAgentLen = 96;
inline constexpr size_t kCallMedia = 4, kCallRtpMaps = 8, kCallTransactions = 4;

struct Call {
  Text<kCallIdLen> call_id;
  uint64_t hash = 0;
  Text<kUriLen> caller, callee, contact;
  Text<kTagLen> caller_name, from_tag, to_tag;
  Text<kAgentLen> caller_agent, callee_agent;
  Addr caller_addr, callee_addr;  // the INVITE's source and destination
  uint16_t caller_port = 0, callee_port = 0;
  bool tcp = false;
  CallState state = CallState::kCalling;
  uint16_t final_code = 0;  // final response to the latest INVITE
  bool cancel_seen = false;
  Side bye_from = Side::kCaller;
  uint64_t invite_ns = 0;   // the first INVITE
  uint64_t ringing_ns = 0;  // the first 18x
  uint64_t answer_ns = 0;   // the 2xx that established it
  uint64_t bye_ns = 0;
  uint64_t final_ns = 0;  // the final response to the latest INVITE
  uint64_t last_ns = 0;   // the latest SIP message
  int64_t ring_us = -1;   // INVITE (of the transaction answered) to the first 18x
  int64_t setup_us = -1;  // INVITE (of the transaction answered) to the 2xx
  uint32_t invite_cseq = 0;
  uint32_t messages = 0, retransmissions = 0, auth_challenges = 0;
  uint8_t next_transaction = 0;
  std::array<SipTransaction, kCallTransactions> transactions{};
  uint8_t media_count = 0;
  std::array<MediaEndpoint, kCallMedia> media{};
  uint8_t rtpmap_count = 0;
  std::array<RtpMap, kCallRtpMaps> rtpmaps{};

  SipTransaction* find_transaction(Method m, uint32_t cseq);
  void add_transaction(Method m, uint32_t cseq, uint64_t ts_ns);
  void add_media(const Sdp& sdp, Side side);
};

class CallTable {
 public:
  explicit CallTable(uint32_t capacity) : calls_(capacity ? capacity : 1), index_(capacity) {}
  Call* find(std::string_view call_id);
  // A new call for `call_id`; the least recently active call gives way when the table is full
  // (`evicted` is then set, and `evicted_active` when that call had not ended).
  Call& insert(std::string_view call_id, bool& evicted, bool& evicted_active);
  void touch(const Call& c) { index_.touch(slot_of(c)); }
  uint32_t size() const { return index_.size(); }
  template <typename F>
  void for_each(F&& visit) const {
    index_.for_each([&](uint32_t s) { visit(calls_[s]); });
  }

 private:
  uint32_t slot_of(const Call& c) const { return static_cast<uint32_t>(&c - calls_.data()); }
  std::vector<Call> calls_;
  LruIndex index_;
};

// ---- RTP streams -------------------------------------------------------------------------

struct StreamKey {
  Addr src, dst;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t ssrc = 0;
  bool operator==(const StreamKey& o) const {
    return ssrc == o.ssrc && src_port == o.src_port && dst_port == o.dst_port && src == o.src &&
           dst == o.dst;
  }
  uint64_t hash() const;
};

enum class StreamState : uint8_t {
  kCandidate = 0,  // looks like RTP; not confirmed yet (heuristic)
  kActive,
  kEnded,  // its flow ended, or its sender moved to another SSRC
};
enum class Origin : uint8_t { kSdp = 0, kHeuristic };

struct Stream {
  StreamKey key;
  uint64_t serial = 0;  // per worker, names the stream ("<worker>:<serial>")
  uint64_t flow_id = 0;
  StreamState state = StreamState::kCandidate;
  Origin origin = Origin::kHeuristic;
  bool has_pt = false;  // the stream's audio payload type is known
  bool mos_recorded = false;
  bool last_audio = false;  // the latest packet was of the stream's audio payload type
  uint8_t payload_type = 0;
  Codec codec = Codec::kUnknown;
  uint32_t clock = 0;
  uint16_t last_seq = 0;
  uint32_t last_ts = 0;
  uint32_t ts_step = 0;   // timestamp increment between consecutive packets of its type
  uint64_t other_pt = 0;  // packets of other payload types (DTMF, comfort noise, a switch)
  uint64_t first_ns = 0, last_ns = 0, payload_bytes = 0;
  RtpStats stats;
};

class StreamTable {
 public:
  explicit StreamTable(uint32_t capacity) : streams_(capacity ? capacity : 1), index_(capacity) {}
  // The slot of `key`, or LruIndex::kNil.
  uint32_t find(const StreamKey& key) const;
  // A fresh slot for `key` (LRU eviction as CallTable; the old entry is returned in `old` so
  // the caller can close its books).
  uint32_t insert(const StreamKey& key, bool& evicted, Stream& old);
  void release(uint32_t slot) { index_.release(slot); }
  void touch(uint32_t slot) { index_.touch(slot); }
  bool valid(uint32_t slot) const { return index_.in_use(slot); }
  Stream& at(uint32_t slot) { return streams_[slot]; }
  const Stream& at(uint32_t slot) const { return streams_[slot]; }
  uint32_t size() const { return index_.size(); }
  uint32_t capacity() const { return index_.capacity(); }
  // The stream insert() would push out, or nullptr while there is room.
  const Stream* next_victim() const {
    return size() < capacity() ? nullptr : &streams_[index_.oldest()];
  }
  template <typename F>
  void for_each(F&& visit) const {
    index_.for_each([&](uint32_t s) { visit(streams_[s]); });
  }

 private:
  std::vector<Stream> streams_;
  LruIndex index_;
};

// ---- media endpoints announced by SDP ----------------------------------------------------

// Where SDP said RTP would arrive, with the payload types it mapped: a packet to or from one
// of these is RTP from its first packet, and a dynamic payload type gets its clock rate.
// A set-associative cache (4 ways): an endpoint can be pushed out by newer ones that hash to
// the same set, which only costs the stream its early detection (the heuristic still applies).
struct MediaHint {
  Addr addr;
  uint16_t port = 0;
  bool used = false;
  uint8_t rtpmap_count = 0;
  std::array<RtpMap, 4> rtpmaps{};
  uint64_t ts_ns = 0;
  bool lookup(uint8_t pt, Codec& codec, uint32_t& clock) const;
};

class MediaHints {
 public:
  static constexpr uint32_t kWays = 4;
  explicit MediaHints(uint32_t capacity);
  void add(const Addr& addr, uint16_t port, const Sdp& sdp, uint64_t ts_ns);
  const MediaHint* find(const Addr& addr, uint16_t port) const;

 private:
  std::vector<MediaHint> slots_;
  uint64_t set_mask_;
};

}  // namespace wiremeter::voip
