// l2: a fixed-capacity hash map for the per-worker tables.
//
// Allocated once (open addressing, linear probing, at most 75% full); insertion into a full map
// fails and the caller counts the overflow. Erasing shifts the following entries back instead
// of leaving tombstones, so that a table with steady churn (outstanding ARP requests) never
// degrades. Not thread-safe: one owner; copies are how the control plane sees it.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace wiremeter::l2 {

// splitmix64's finalizer: MACs of one vendor and IPs of one subnet share their high bits.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct U64Hash {
  uint64_t operator()(uint64_t k) const { return mix64(k); }
};

template <typename Key, typename Value, typename Hash = U64Hash>
class FixedMap {
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>,
                "copied wholesale to publish snapshots");

 public:
  struct Slot {
    Key key;
    Value value;
    bool used;
  };

  explicit FixedMap(uint32_t max_entries = 1) : max_(max_entries ? max_entries : 1) {
    size_t slots = std::bit_ceil(static_cast<size_t>(max_) * 4 / 3 + 1);
    slots_.assign(slots, Slot{});
    mask_ = slots - 1;
  }

  uint32_t size() const { return count_; }
  uint32_t max_entries() const { return max_; }

  Value* find(const Key& k) noexcept {
    for (size_t i = home(k);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == k) {
        dirty_ = true;  // the caller may change the value
        return &s.value;
      }
    }
  }
  const Value* find(const Key& k) const noexcept {
    for (size_t i = home(k);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == k) return &s.value;
    }
  }

  // The entry for k, value-initialized when new (`inserted`); nullptr when the map is full.
  Value* upsert(const Key& k, bool& inserted) noexcept {
    inserted = false;
    for (size_t i = home(k);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used) {
        if (count_ >= max_) return nullptr;
        s.used = true;
        s.key = k;
        s.value = Value{};
        ++count_;
        inserted = true;
        dirty_ = true;
        return &s.value;
      }
      if (s.key == k) {
        dirty_ = true;
        return &s.value;
      }
    }
  }

  bool erase(const Key& k) noexcept {
    for (size_t i = home(k);; i = (i + 1) & mask_) {
      if (!slots_[i].used) return false;
      if (slots_[i].key == k) {
        erase_at(i);
        return true;
      }
    }
  }

  // Erases every entry for which pred(key, value) is true; the others are visited at least
  // once (an entry moved back over the end of the array may be visited twice, which a pure
  // predicate does not notice).
  template <typename Pred>
  void erase_if(Pred&& pred) noexcept {
    for (size_t i = 0; i < slots_.size();) {
      if (slots_[i].used && pred(slots_[i].key, slots_[i].value)) {
        erase_at(i);  // another entry may have moved into i: look at it again
      } else {
        ++i;
      }
    }
  }

  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.used) f(s.key, s.value);
    }
  }

  // Copies `other` into this map when it changed since the last copy. Same capacity: the
  // vector's storage is reused, so publishing never allocates.
  void publish_from(FixedMap& other) {
    if (!other.dirty_ && slots_.size() == other.slots_.size()) return;
    slots_ = other.slots_;
    mask_ = other.mask_;
    max_ = other.max_;
    count_ = other.count_;
    other.dirty_ = false;
  }

 private:
  size_t home(const Key& k) const { return Hash{}(k)&mask_; }

  void erase_at(size_t i) noexcept {
    slots_[i].used = false;
    --count_;
    dirty_ = true;
    for (size_t j = (i + 1) & mask_; slots_[j].used; j = (j + 1) & mask_) {
      size_t h = home(slots_[j].key);
      // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
      bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      slots_[j].used = false;
      i = j;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t max_;
  uint32_t count_ = 0;
  bool dirty_ = false;
};

}  // namespace wiremeter::l2
