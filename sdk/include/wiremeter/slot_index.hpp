// SlotIndex: a chained hash index over the slots [0, capacity) of an array the caller owns, for
// the fixed-size tables of the data path (servers, host names, certificates, connections).
//
// Everything is allocated in the constructor; find(), insert() and erase() never allocate. The
// caller keeps the rows and their full keys: the index keeps each slot's hash and compares keys
// through the caller's `same(slot)`.
//
// Thread-safety: one writer (the owning worker), like the table it indexes.
#pragma once

#include <cstdint>
#include <vector>

namespace wiremeter {

class SlotIndex {
 public:
  static constexpr uint32_t kNil = UINT32_MAX;

  explicit SlotIndex(uint32_t capacity) : next_(capacity, kNil), hashes_(capacity, 0) {
    // Twice as many buckets as slots keeps chains at about one entry.
    uint64_t buckets = 16;
    while (buckets < 2ull * capacity) buckets <<= 1;
    mask_ = buckets - 1;
    heads_.assign(buckets, kNil);
  }

  // The slot whose hash is `hash` and for which same(slot) holds, or kNil.
  template <typename Eq>
  uint32_t find(uint64_t hash, Eq&& same) const {
    for (uint32_t s = heads_[hash & mask_]; s != kNil; s = next_[s]) {
      if (hashes_[s] == hash && same(s)) return s;
    }
    return kNil;
  }

  void insert(uint32_t slot, uint64_t hash) {
    hashes_[slot] = hash;
    next_[slot] = heads_[hash & mask_];
    heads_[hash & mask_] = slot;
  }

  // Unlinks a slot that was inserted (a no-op for one that is not in its chain).
  void erase(uint32_t slot) {
    uint32_t* link = &heads_[hashes_[slot] & mask_];
    while (*link != kNil) {
      if (*link == slot) {
        *link = next_[slot];
        next_[slot] = kNil;
        return;
      }
      link = &next_[*link];
    }
  }

 private:
  uint64_t mask_;
  std::vector<uint32_t> heads_, next_;
  std::vector<uint64_t> hashes_;
};

}  // namespace wiremeter
