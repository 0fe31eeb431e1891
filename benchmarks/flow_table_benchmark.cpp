// Cost of FlowTable::track, the per-packet flow lookup of every worker, and the memory a flow
// takes.
//
// Three cases, each at 1k, 100k and 1M flows (one tracked packet per iteration, so the Time
// column is the cost of one packet):
//   Hit          - packets of flows already in the table, in random order, both directions;
//   Insert       - first packets of new flows into a table with room for them;
//   InsertEvict  - first packets of new flows into a full table: each evicts the least
//                  recently active flow, which is what happens under memory pressure.
// Counters: `stride` is the bytes of one record (FlowTable::record_stride(), no plugin state),
// `bytes_per_flow` adds the hash index (memory_bytes() / capacity()).
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <wiremeter/abi.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "wiremeter/core/flow_table.hpp"

namespace wiremeter::bench {
namespace {

using core::FlowTable;

// What distinguishes one flow from another; the rest of the view is the same for all packets.
struct Key {
  uint32_t src;
  uint32_t dst;
  uint16_t sport;
  uint16_t dport;
};

// Unique for i < 2^31, all inside the benchmarking range 198.18.0.0/15.
Key key_of(uint32_t i) {
  return Key{0xc6120000u + (i >> 14), 0xc6130001u, static_cast<uint16_t>(1024 + (i & 0x3fff)), 443};
}

std::vector<Key> make_keys(size_t n) {
  std::vector<Key> keys(n);
  for (size_t i = 0; i < n; ++i) keys[i] = key_of(static_cast<uint32_t>(i));
  return keys;
}

// Sets the fields FlowTable::track reads, as decode_packet would for an IPv4 TCP segment.
inline void fill_view(wm_packet& p, const Key& k, bool reverse, uint64_t ts) {
  uint32_t a = reverse ? k.dst : k.src;
  uint32_t b = reverse ? k.src : k.dst;
  std::memcpy(p.src_addr, &a, 4);
  std::memcpy(p.dst_addr, &b, 4);
  p.src_port = reverse ? k.dport : k.sport;
  p.dst_port = reverse ? k.sport : k.dport;
  p.ts_ns = ts;
}

wm_packet base_view() {
  wm_packet p{};
  p.ip_version = 4;
  p.l4_proto = 6;
  p.flags = WM_PKT_IPV4 | WM_PKT_L4;
  p.cap_len = p.wire_len = 100;
  return p;
}

// The smallest budget (to within 1/64) that holds `flows`: the table derives its capacity from
// a byte budget, and the benchmark wants a flow count.
std::unique_ptr<FlowTable> make_table(uint32_t flows) {
  size_t bytes = static_cast<size_t>(flows) * (sizeof(core::FlowRecord) + 16);
  for (;;) {
    auto t = std::make_unique<FlowTable>(bytes, 0, core::FlowTimeouts{}, 0);
    if (t->capacity() >= flows) return t;
    bytes += bytes / 64 + 1;
  }
}

// Set up once per (case, flow count) and kept across the repeated calls Google Benchmark makes
// while it sizes the iteration count: filling a 1M-flow table costs more than the measurement.
struct Fixture {
  std::string tag;
  std::unique_ptr<FlowTable> table;
  std::vector<Key> keys;
  std::vector<uint32_t> order;  // Hit: random visiting order
  size_t cursor = 0;
  uint64_t ts = 1;
};

std::unique_ptr<Fixture>& fixture_slot() {
  static std::unique_ptr<Fixture> f;
  return f;
}

void insert_all(Fixture& f, size_t begin, size_t end) {
  wm_packet p = base_view();
  for (size_t i = begin; i < end; ++i) {
    if ((i & 31) == 0) f.table->begin_batch();  // bursts of 32, as the worker does
    fill_view(p, f.keys[i], false, f.ts++);
    f.table->track(p);
  }
}

Fixture& fixture(const std::string& kind, uint32_t flows) {
  std::unique_ptr<Fixture>& slot = fixture_slot();
  std::string tag = kind + "/" + std::to_string(flows);
  if (slot && slot->tag == tag) return *slot;
  slot.reset();  // release the previous table before mapping the next one
  slot = std::make_unique<Fixture>();
  Fixture& f = *slot;
  f.tag = tag;
  f.table = make_table(flows);
  if (kind == "hit") {
    f.keys = make_keys(flows);
    insert_all(f, 0, flows);
    f.order.resize(flows);
    std::iota(f.order.begin(), f.order.end(), 0u);
    std::shuffle(f.order.begin(), f.order.end(), std::mt19937(42));
  } else if (kind == "insert") {
    f.keys = make_keys(flows);
    // One untimed fill faults the table's pages in, as a long-running worker has them.
    insert_all(f, 0, flows);
    f.table->flush();
  } else {
    // Two generations of keys, each as large as the table: inserting one generation evicts the
    // other, oldest first, so every insert finds the table full and its key absent.
    uint32_t cap = f.table->capacity();
    f.keys = make_keys(static_cast<size_t>(cap) * 2);
    insert_all(f, 0, cap);
    f.cursor = cap;
  }
  return f;
}

void set_memory_counters(benchmark::State& state, const FlowTable& t) {
  state.counters["stride"] = static_cast<double>(t.record_stride());
  state.counters["bytes_per_flow"] =
      static_cast<double>(t.memory_bytes()) / static_cast<double>(t.capacity());
  state.counters["capacity"] = static_cast<double>(t.capacity());
}

void BM_FlowHit(benchmark::State& state) {
  auto flows = static_cast<uint32_t>(state.range(0));
  Fixture& f = fixture("hit", flows);
  uint64_t created = f.table->counters().created.load();
  wm_packet p = base_view();
  size_t i = f.cursor;
  for (auto _ : state) {
    // Alternate directions: replies look up the same record through the reversed tuple.
    fill_view(p, f.keys[f.order[i]], i & 1, f.ts++);
    f.table->track(p);
    benchmark::DoNotOptimize(p.flow);
    if (++i == flows) i = 0;
  }
  f.cursor = i;
  if (f.table->counters().created.load() != created) {
    state.SkipWithError("a lookup created a flow: the keys do not hit");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  set_memory_counters(state, *f.table);
}

void BM_FlowInsert(benchmark::State& state) {
  auto flows = static_cast<uint32_t>(state.range(0));
  Fixture& f = fixture("insert", flows);
  wm_packet p = base_view();
  for (auto _ : state) {
    if (f.cursor == flows) {
      // Out of room: start again from an empty table, off the clock.
      state.PauseTiming();
      f.table->flush();
      f.cursor = 0;
      state.ResumeTiming();
    }
    fill_view(p, f.keys[f.cursor++], false, f.ts++);
    f.table->track(p);
    benchmark::DoNotOptimize(p.flow);
  }
  if (f.table->counters().evicted.load() != 0) {
    state.SkipWithError("an insert evicted a flow: the table is too small");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  set_memory_counters(state, *f.table);
}

void BM_FlowInsertEvict(benchmark::State& state) {
  auto flows = static_cast<uint32_t>(state.range(0));
  Fixture& f = fixture("evict", flows);
  const size_t n_keys = f.keys.size();
  uint64_t evicted = f.table->counters().evicted.load();
  wm_packet p = base_view();
  size_t i = f.cursor;
  for (auto _ : state) {
    if ((i & 31) == 0) f.table->begin_batch();
    fill_view(p, f.keys[i], false, f.ts++);
    f.table->track(p);
    benchmark::DoNotOptimize(p.flow);
    if (++i == n_keys) i = 0;
  }
  f.cursor = i;
  if (f.table->counters().evicted.load() - evicted != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every insert evicted a flow");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  set_memory_counters(state, *f.table);
}

// Resident memory of this process, from /proc/self/statm.
double resident_mib() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// The memory budget holds: a table of `budget` MiB with 128 bytes of plugin state per flow (what
// the analyzer modules keep next to a flow) takes 4x its capacity in distinct flows. Eviction
// keeps it inside the budget; the counters show how much resident memory it really grew by.
void BM_FlowBudget(benchmark::State& state) {
  size_t budget = static_cast<size_t>(state.range(0)) << 20;
  for (auto _ : state) {
    fixture_slot().reset();  // release the other cases' tables first
    double before = resident_mib();
    FlowTable table(budget, 128, core::FlowTimeouts{}, 0);
    uint64_t n = static_cast<uint64_t>(table.capacity()) * 4;
    wm_packet p = base_view();
    for (uint64_t i = 0; i < n; ++i) {
      if ((i & 31) == 0) table.begin_batch();
      fill_view(p, key_of(static_cast<uint32_t>(i)), false, i + 1);
      table.track(p);
    }
    double grown = resident_mib() - before;
    state.counters["budget_mib"] = static_cast<double>(budget >> 20);
    state.counters["capacity"] = static_cast<double>(table.capacity());
    state.counters["flows_offered"] = static_cast<double>(n);
    state.counters["evicted"] = static_cast<double>(table.counters().evicted.load());
    state.counters["resident_growth_mib"] = grown;
    state.counters["bytes_per_flow"] =
        static_cast<double>(table.memory_bytes()) / static_cast<double>(table.capacity());
    if (grown > static_cast<double>(budget >> 20) * 1.02) {
      state.SkipWithError("resident memory grew past the budget");
    }
  }
}

BENCHMARK(BM_FlowHit)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_FlowInsert)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_FlowInsertEvict)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);
// 1 GiB: does 1M flows with module state fit? 256 MiB: 4x over capacity stays inside.
BENCHMARK(BM_FlowBudget)->Arg(1024)->Arg(256)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace wiremeter::bench

BENCHMARK_MAIN();
