// dpi: nDPI classification per flow; see dpi_plugin.hpp for the design.
#include "dpi_plugin.hpp"

#include <arpa/inet.h>
#include <ndpi_api.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>

namespace wiremeter::dpi {
namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint32_t kMaxIpPacket = 65535;  // nDPI takes the packet length as an unsigned short

// Copies a C string into a fixed buffer, truncating; always NUL-terminates.
template <size_t N>
void copy_bounded(char (&dst)[N], const char* src, size_t src_max) {
  size_t n = strnlen(src, src_max);
  if (n > N - 1) n = N - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

// Unix seconds with microseconds, as the other modules write times.
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

std::string address_text(const uint8_t* addr, uint8_t ip_version) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf);
  return buf;
}

void check_readable(const char* field, const std::string& path) {
  if (path.empty()) return;
  std::ifstream f(path);
  if (!f) throw std::runtime_error(std::string("dpi.") + field + ": cannot read " + path);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FlowPool

FlowPool::FlowPool(uint32_t capacity)
    : capacity_(capacity),
      // Cache-line multiples, so neighbouring flows inspected back to back share no line.
      stride_((sizeof(ndpi_flow_struct) + 63) & ~size_t{63}),
      storage_(static_cast<size_t>(capacity) * stride_),
      free_(capacity),
      used_(capacity),
      n_free_(capacity) {
  // Lowest handles on top, so a lightly loaded worker keeps reusing the same few pages.
  for (uint32_t i = 0; i < capacity; ++i) free_[i] = capacity - i;
}

FlowPool::~FlowPool() {
  for (uint32_t h = 1; h <= capacity_; ++h) {
    if (used_[h - 1]) ndpi_free_flow_data(get(h));
  }
}

uint32_t FlowPool::acquire() noexcept {
  if (n_free_ == 0) return 0;
  uint32_t h = free_[--n_free_];
  // nDPI expects a zeroed struct for a new flow (ndpiReader callocs it).
  std::memset(get(h), 0, sizeof(ndpi_flow_struct));
  used_[h - 1] = 1;
  in_use_.set(capacity_ - n_free_);
  return h;
}

void FlowPool::release(uint32_t h) noexcept {
  // nDPI allocates inside the struct (URLs, certificate names, reassembly buffers).
  ndpi_free_flow_data(get(h));
  used_[h - 1] = 0;
  free_[n_free_++] = h;
  in_use_.set(capacity_ - n_free_);
}

ndpi_flow_struct* FlowPool::get(uint32_t h) const noexcept {
  return reinterpret_cast<ndpi_flow_struct*>(&storage_[static_cast<size_t>(h - 1) * stride_]);
}

// ---------------------------------------------------------------------------------------------
// LabelTable

LabelTable::LabelTable() : entries_(new Entry[kMaxLabels]) {
  Entry& other = entries_[kOtherLabel];
  other.key = 0xffffffffu;  // no nDPI pair has it, so find() never returns the overflow entry
  copy_bounded(other.name, "other", kLabelLen);
  count_.store(1, std::memory_order_release);
}

int LabelTable::find(uint32_t key) const noexcept {
  for (uint32_t s = slot_of(key);; s = (s + 1) % kSlots) {
    uint16_t v = slots_[s];
    if (v == 0) return -1;
    if (entries_[v - 1].key == key) return v - 1;
  }
}

uint16_t LabelTable::add(uint32_t key, const char* name, uint16_t category) noexcept {
  uint32_t n = count_.load(std::memory_order_relaxed);
  if (n == kMaxLabels) return kOtherLabel;
  Entry& e = entries_[n];
  e.key = key;
  e.category = category;
  copy_bounded(e.name, name, kLabelLen);
  uint32_t s = slot_of(key);
  while (slots_[s] != 0) s = (s + 1) % kSlots;
  slots_[s] = static_cast<uint16_t>(n + 1);
  count_.store(n + 1, std::memory_order_release);  // publishes key and name to readers
  return static_cast<uint16_t>(n);
}

void LabelTable::seen(uint16_t i, uint64_t first_ns, uint64_t last_ns) noexcept {
  Entry& e = entries_[i];
  if (first_ns == 0 || first_ns > last_ns) first_ns = last_ns;
  if (first_ns != 0 && (e.first_ns.value() == 0 || first_ns < e.first_ns.value())) {
    e.first_ns.set(first_ns);
  }
  if (last_ns > e.last_ns.value()) e.last_ns.set(last_ns);
}

// ---------------------------------------------------------------------------------------------
// DpiWorker

DpiWorker::DpiWorker(const wm_worker_info& info, const Config& config, const Host* host)
    : slot_(info.flow_state_offset),
      id_(info.worker_id),
      config_(config),
      pool_(config.inspect_flows),
      keep_ended_(config.ended_flows > 0),
      ended_(config.ended_flows),
      host_(host),
      shared_ids_(kMaxLabels, 0) {
  ndpi_ = ndpi_init_detection_module(ndpi_no_prefs);
  if (!ndpi_) throw std::runtime_error("dpi: nDPI failed to initialize");
  // The same set-up, in the same order, as ndpiReader 4.2, so that labels agree with it.
  NDPI_PROTOCOL_BITMASK all;
  NDPI_BITMASK_SET_ALL(all);
  ndpi_set_protocol_detection_bitmask2(ndpi_, &all);
  using Loader = int (*)(ndpi_detection_module_struct*, const char*);
  const struct {
    const std::string& path;
    const char* field;
    Loader load;
  } files[] = {
      {config_.protos_file, "protos_file", &ndpi_load_protocols_file},
      {config_.categories_file, "categories_file", &ndpi_load_categories_file},
      {config_.risky_domains_file, "risky_domains_file", &ndpi_load_risk_domain_file},
      {config_.ja3_file, "ja3_file", &ndpi_load_malicious_ja3_file},
      {config_.sha1_file, "sha1_file", &ndpi_load_malicious_sha1_file},
  };
  for (const auto& f : files) {
    if (!f.path.empty() && f.load(ndpi_, f.path.c_str()) < 0) {
      ndpi_exit_detection_module(ndpi_);  // the destructor does not run for a failed constructor
      ndpi_ = nullptr;
      throw std::runtime_error(std::string("dpi.") + f.field + ": nDPI cannot load " + f.path);
    }
  }
  ndpi_finalize_initialization(ndpi_);
}

DpiWorker::~DpiWorker() {
  if (ndpi_) ndpi_exit_detection_module(ndpi_);
}

std::string DpiWorker::category_name(uint16_t category) const {
  const char* n = ndpi_category_get_name(ndpi_, static_cast<ndpi_protocol_category_t>(category));
  return n ? n : "";
}

uint32_t DpiWorker::packet_limit(uint8_t l4_proto) const noexcept {
  return l4_proto == kTcp   ? config_.max_tcp_packets
         : l4_proto == kUdp ? config_.max_udp_packets
                            : config_.max_other_packets;
}

void DpiWorker::on_batch(std::span<const wm_packet> packets) noexcept {
  for (const wm_packet& p : packets) {
    FlowState* s = slot_.get(p);
    if (!s) continue;  // no flow: non-IP, or a later IP fragment (nDPI ignores those too)
    s->roles.observe(p);
    if (s->status == Status::kNew) start(*s, p);
    if (s->status == Status::kInspecting) {
      ++s->pending_packets;
      s->pending_bytes += p.wire_len;
      inspect(p, *s);
    } else {
      LabelTable::Entry& e = labels_.at(s->label);
      e.packets.add(1);
      e.bytes.add(p.wire_len);
      e.last_ns.set(p.ts_ns);  // a worker's packets come in time order
    }
    if (s->status == Status::kClassified && !s->label_shared && host_) share_label(p.flow, *s);
  }
}

// Publishes the label to the flow record for the other modules. The host-wide id is looked up
// once per label per worker (it takes a lock), then cached.
void DpiWorker::share_label(const wm_flow_info* flow, FlowState& s) noexcept {
  s.label_shared = 1;
  if (s.label >= shared_ids_.size()) return;
  uint16_t& id = shared_ids_[s.label];
  if (id == 0) id = host_->label_id(labels_.entry(s.label).name);
  host_->set_flow_label(flow, id);
}

void DpiWorker::start(FlowState& s, const wm_packet& p) noexcept {
  s.ndpi_slot = pool_.acquire();
  if (s.ndpi_slot != 0) {
    s.status = Status::kInspecting;
    return;
  }
  // Out of nDPI structs: this flow stays Unknown rather than evicting another flow's state.
  no_memory_.add(1);
  s.status = Status::kNoMemory;
  s.label = label_of(NDPI_PROTOCOL_UNKNOWN, NDPI_PROTOCOL_UNKNOWN);
  labels_.at(s.label).flows.add(1);
  labels_.seen(s.label, p.ts_ns, p.ts_ns);
}

void DpiWorker::inspect(const wm_packet& p, FlowState& s) noexcept {
  ndpi_flow_struct* f = pool_.get(s.ndpi_slot);
  if (s.packets < UINT16_MAX) ++s.packets;
  ndpi_protocol r{};
  if (p.l3_off != 0 && p.l3_off < p.cap_len && (p.ip_version == 4 || p.ip_version == 6)) {
    // nDPI parses from the IP header and checks every length against the one given here,
    // which never exceeds what was captured.
    uint32_t len = std::min<uint32_t>(p.cap_len - p.l3_off, kMaxIpPacket);
    r = ndpi_detection_process_packet(ndpi_, f, p.data + p.l3_off, static_cast<uint16_t>(len),
                                      p.ts_ns / 1'000'000);
  }
  // ndpiReader's rule: done when a protocol is known and nDPI wants no more packets for it
  // (a TLS certificate, a DNS answer), or when the packet limit is passed or nDPI failed.
  bool enough = s.packets > packet_limit(p.l4_proto) || f->fail_with_unknown;
  if (!enough && r.app_protocol == NDPI_PROTOCOL_UNKNOWN) return;
  if (!enough && ndpi_extra_dissection_possible(ndpi_, f)) return;
  // The flow's first packet, for the label's first_seen: packets before this one are counted
  // under the label now.
  uint64_t first_ns = p.flow ? p.flow->first_ns : 0;
  if (r.app_protocol == NDPI_PROTOCOL_UNKNOWN) {
    give_up(s, first_ns, p.ts_ns);
    return;
  }
  copy_bounded(s.host, f->host_server_name, sizeof f->host_server_name);
  classify(s, r.master_protocol, r.app_protocol, static_cast<uint16_t>(r.category), first_ns,
           p.ts_ns);
}

void DpiWorker::give_up(FlowState& s, uint64_t first_ns, uint64_t last_ns) noexcept {
  ndpi_flow_struct* f = pool_.get(s.ndpi_slot);
  uint8_t guessed = 0;
  // Guessing on, as ndpiReader without -d: by port, by IP address, by what was half-seen.
  ndpi_protocol r = ndpi_detection_giveup(ndpi_, f, 1, &guessed);
  copy_bounded(s.host, f->host_server_name, sizeof f->host_server_name);
  classify(s, r.master_protocol, r.app_protocol, static_cast<uint16_t>(r.category), first_ns,
           last_ns);
}

void DpiWorker::classify(FlowState& s, uint16_t master, uint16_t app, uint16_t category,
                         uint64_t first_ns, uint64_t last_ns) noexcept {
  pool_.release(s.ndpi_slot);
  s.ndpi_slot = 0;
  s.status = Status::kClassified;
  s.category = category;
  s.label = label_of(master, app);
  LabelTable::Entry& e = labels_.at(s.label);
  e.flows.add(1);
  e.packets.add(s.pending_packets);
  e.bytes.add(s.pending_bytes);
  labels_.seen(s.label, first_ns, last_ns);
  s.pending_packets = 0;
  s.pending_bytes = 0;
}

uint16_t DpiWorker::label_of(uint16_t master, uint16_t app) noexcept {
  uint32_t key = static_cast<uint32_t>(master) << 16 | app;
  int i = labels_.find(key);
  if (i >= 0) return static_cast<uint16_t>(i);
  // Once per distinct pair per worker, not per flow.
  ndpi_protocol proto{};
  proto.master_protocol = master;
  proto.app_protocol = app;
  char name[kLabelLen];
  ndpi_protocol2name(ndpi_, proto, name, sizeof name);
  return labels_.add(key, name, static_cast<uint16_t>(ndpi_get_proto_category(ndpi_, proto)));
}

void DpiWorker::on_flow_end(const wm_flow_info& flow, FlowState& s) noexcept {
  if (s.status == Status::kInspecting) {
    // What ndpiReader does with flows still undecided when the capture ends.
    give_up(s, flow.first_ns, flow.last_ns);
  } else if (s.status == Status::kNew) {
    // No packet of it reached this plugin: nothing to inspect, but it is still a flow.
    s.status = Status::kClassified;
    s.label = label_of(NDPI_PROTOCOL_UNKNOWN, NDPI_PROTOCOL_UNKNOWN);
    labels_.at(s.label).flows.add(1);
    labels_.seen(s.label, flow.first_ns, flow.last_ns);
  }
  // A label decided only now still reaches the modules whose on_flow_end comes after ours.
  if (!s.label_shared && host_) share_label(&flow, s);
  if (!keep_ended_) {
    ended_not_kept_.add(1);
    return;
  }
  EndedFlow e{};
  e.id = flow.id;
  e.start_ns = flow.first_ns;
  e.end_ns = flow.last_ns;
  int client = s.roles.client(flow);
  for (int d = 0; d < 2; ++d) {
    int from = d == 0 ? client : 1 - client;
    e.packets[d] = flow.packets[from];
    e.bytes[d] = flow.bytes[from];
    e.port[d] = flow.port[from];
    std::memcpy(e.addr[d], flow.addr[from], sizeof e.addr[d]);
  }
  e.vlan = flow.vlan;
  e.label = s.label;
  e.category = s.category;
  e.ip_version = flow.ip_version;
  e.l4_proto = flow.l4_proto;
  copy_bounded(e.host, s.host, kHostLen);
  ended_.push(e);
}

// ---------------------------------------------------------------------------------------------
// DpiPlugin

DpiPlugin::DpiPlugin(Host& host)
    : host_(host),
      config_(parse_config(host.config_json())),
      flows_id_(host.register_metric("wiremeter_dpi_flows_total",
                                     "Flows by nDPI protocol label (top 20 by bytes, rest in "
                                     "\"other\"), counted when classified.",
                                     WM_METRIC_COUNTER)),
      packets_id_(host.register_metric("wiremeter_dpi_packets_total",
                                       "Packets by nDPI protocol label (top 20 by bytes, rest in "
                                       "\"other\").",
                                       WM_METRIC_COUNTER)),
      bytes_id_(host.register_metric("wiremeter_dpi_bytes_total",
                                     "Frame bytes on the wire by nDPI protocol label (top 20 "
                                     "by bytes, rest in \"other\").",
                                     WM_METRIC_COUNTER)),
      no_memory_id_(host.register_metric(
          "wiremeter_dpi_flows_unclassified_no_memory_total",
          "Flows left Unknown because every nDPI flow struct was in use (raise inspect_flows).",
          WM_METRIC_COUNTER)),
      inspecting_id_(host.register_metric("wiremeter_dpi_inspecting_flows",
                                          "Flows nDPI is inspecting now (nDPI structs in use).",
                                          WM_METRIC_GAUGE)),
      dropped_id_(host.register_metric(
          "wiremeter_dpi_ended_flows_dropped_total",
          "Ended flows no longer listed in the JSON view (the per-worker list is full).",
          WM_METRIC_COUNTER)) {
  // Fail at load with the field's name rather than later on every worker.
  check_readable("protos_file", config_.protos_file);
  check_readable("categories_file", config_.categories_file);
  check_readable("risky_domains_file", config_.risky_domains_file);
  check_readable("ja3_file", config_.ja3_file);
  check_readable("sha1_file", config_.sha1_file);
}

std::unique_ptr<DpiWorker> DpiPlugin::make_worker(const wm_worker_info& info) {
  auto w = std::make_unique<DpiWorker>(info, config_, &host_);
  if (categories_.empty()) {
    for (uint16_t c = 0; c < NDPI_PROTOCOL_NUM_CATEGORIES; ++c) {
      categories_.push_back(w->category_name(c));
    }
  }
  return w;
}

std::string DpiPlugin::category_name(uint16_t category) const {
  return category < categories_.size() ? categories_[category] : "";
}

std::vector<DpiPlugin::Totals> DpiPlugin::totals(std::span<DpiWorker* const> workers) const {
  std::map<std::string, Totals> by_name;
  for (DpiWorker* w : workers) {
    if (!w) continue;
    const LabelTable& t = w->labels();
    uint32_t n = t.published();
    for (uint32_t i = 0; i < n; ++i) {
      const LabelTable::Entry& e = t.entry(i);
      uint64_t flows = e.flows.value();
      if (flows == 0) continue;
      Totals& x = by_name[e.name];
      if (x.name.empty()) {
        x.name = e.name;
        // The overflow entry mixes labels: it has no category of its own.
        if (i != kOtherLabel) x.category = category_name(e.category);
      }
      x.flows += flows;
      x.packets += e.packets.value();
      x.bytes += e.bytes.value();
      uint64_t first = e.first_ns.value(), last = e.last_ns.value();
      if (first != 0 && (x.first_ns == 0 || first < x.first_ns)) x.first_ns = first;
      x.last_ns = std::max(x.last_ns, last);
    }
  }
  std::vector<Totals> out;
  out.reserve(by_name.size());
  for (auto& [name, t] : by_name) out.push_back(t);
  std::stable_sort(out.begin(), out.end(),
                   [](const Totals& a, const Totals& b) { return a.bytes > b.bytes; });
  return out;
}

std::vector<DpiPlugin::Totals> DpiPlugin::top_n(const std::vector<Totals>& sorted, size_t top) {
  std::vector<Totals> out;
  Totals other{"other"};
  bool any_other = false;
  for (const Totals& t : sorted) {
    if (out.size() < top && t.name != "other") {
      out.push_back(t);
      continue;
    }
    any_other = true;
    other.flows += t.flows;
    other.packets += t.packets;
    other.bytes += t.bytes;
  }
  if (any_other) out.push_back(other);
  return out;
}

void DpiPlugin::collect(std::span<DpiWorker* const> workers, MetricSink& sink) {
  // The top-N set is chosen at each scrape, so a label can move between its own series and
  // "other"; Prometheus sees that as a reset of those series, the price of bounded labels.
  for (const Totals& t : top_n(totals(workers), kTopLabels)) {
    Labels l{{"protocol", t.name.c_str()}};
    sink.sample(flows_id_, l, static_cast<double>(t.flows));
    sink.sample(packets_id_, l, static_cast<double>(t.packets));
    sink.sample(bytes_id_, l, static_cast<double>(t.bytes));
  }
  uint64_t no_memory = 0, inspecting = 0, dropped = 0;
  for (DpiWorker* w : workers) {
    if (!w) continue;
    no_memory += w->no_memory();
    inspecting += w->pool().in_use();
    dropped += w->ended_dropped();
  }
  sink.sample(no_memory_id_, {}, static_cast<double>(no_memory));
  sink.sample(inspecting_id_, {}, static_cast<double>(inspecting));
  sink.sample(dropped_id_, {}, static_cast<double>(dropped));
}

void DpiPlugin::on_tick(std::span<DpiWorker* const> workers, uint64_t now_ns) {
  std::vector<std::pair<std::string, uint64_t>> bytes;
  for (Totals& t : totals(workers)) bytes.emplace_back(std::move(t.name), t.bytes);
  series_.update(host_, now_ns, bytes);
}

void DpiPlugin::write_flow(JsonWriter& out, const DpiWorker& w, const EndedFlow& f) const {
  const LabelTable& labels = w.labels();
  // A flow's label was published before the flow ended, so it is below published().
  const char* label = f.label < labels.published() ? labels.entry(f.label).name : "other";
  out.begin_object()
      .field("flow", std::to_string(w.id()) + ":" + std::to_string(f.id))
      .field("proto", static_cast<uint32_t>(f.l4_proto))
      .field("client", address_text(f.addr[0], f.ip_version))
      .field("client_port", static_cast<uint32_t>(f.port[0]))
      .field("server", address_text(f.addr[1], f.ip_version))
      .field("server_port", static_cast<uint32_t>(f.port[1]))
      .field("vlan", static_cast<uint32_t>(f.vlan))
      .field("protocol", label)
      .field("category", category_name(f.category))
      .field("host", f.host);
  out.key("packets").begin_array().value(f.packets[0]).value(f.packets[1]).end_array();
  out.key("bytes").begin_array().value(f.bytes[0]).value(f.bytes[1]).end_array();
  out.field("start", seconds(f.start_ns)).field("end", seconds(f.end_ns));
  out.end_object();
}

void DpiPlugin::write_json(std::span<DpiWorker* const> workers, JsonWriter& out) {
  out.begin_object().key("protocols").begin_array();
  for (const Totals& t : totals(workers)) {
    out.begin_object()
        .field("protocol", t.name)
        .field("flows", t.flows)
        .field("packets", t.packets)
        .field("bytes", t.bytes)
        .end_object();
  }
  out.end_array();
  uint64_t no_memory = 0, inspecting = 0, dropped = 0;
  out.key("flows").begin_array();
  for (DpiWorker* w : workers) {
    if (!w) continue;
    no_memory += w->no_memory();
    inspecting += w->pool().in_use();
    dropped += w->ended_dropped();
    w->ended().for_each([&](const EndedFlow& f) { write_flow(out, *w, f); });
  }
  out.end_array();
  out.field("flows_dropped", dropped)
      .field("flows_unclassified_no_memory", no_memory)
      .field("flows_inspecting", inspecting)
      .end_object();
}

namespace {

void write_protocol(JsonWriter& out, const DpiPlugin::Totals& t) {
  out.begin_object()
      .field("protocol", t.name)
      .field("category", t.category)
      .field("flows", t.flows)
      .field("packets", t.packets)
      .field("bytes", t.bytes);
  out.key("first_seen");
  t.first_ns ? out.value(seconds(t.first_ns)) : out.null();
  out.key("last_seen");
  t.last_ns ? out.value(seconds(t.last_ns)) : out.null();
  out.end_object();
}

// An ended flow with what the flows list sorts and filters by, resolved once per request.
struct FlowRow {
  const DpiWorker* worker;
  EndedFlow flow;
  std::string protocol;
  uint64_t packets() const { return flow.packets[0] + flow.packets[1]; }
  uint64_t bytes() const { return flow.bytes[0] + flow.bytes[1]; }
};

}  // namespace

int DpiPlugin::query(std::span<DpiWorker* const> workers, std::string_view path, const Query& q,
                     JsonWriter& out) {
  if (path == "protocols") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = Totals;
    ListPage<R> page(
        q,
        {{"bytes", [](const R& a, const R& b) { return a.bytes < b.bytes; }},
         {"packets", [](const R& a, const R& b) { return a.packets < b.packets; }},
         {"flows", [](const R& a, const R& b) { return a.flows < b.flows; }},
         {"protocol", [](const R& a, const R& b) { return a.name < b.name; }},
         {"category", [](const R& a, const R& b) { return a.category < b.category; }},
         {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
         {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }}},
        "bytes", [](const R& a, const R& b) { return a.name < b.name; });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = totals(workers);
    std::erase_if(rows, [&](const R& r) {
      if (!window.all() && !window.overlaps(r.first_ns, r.last_ns)) return true;
      return !(contains(r.name, needle) || contains(r.category, needle));
    });
    page.write(rows, out, write_protocol);
    return 200;
  }
  if (path.starts_with("protocols/")) {
    q.allow_only({});
    std::string_view label = path.substr(10);
    if (label.empty()) throw QueryError("protocols/{protocol}: expected a protocol label");
    // Labels are matched without regard to case: a typed URL need not spell "TLS.YouTube" exactly.
    std::string wanted = lower(label);
    for (const Totals& t : totals(workers)) {
      if (lower(t.name) != wanted) continue;
      series_.watch(t.name);  // looking at a protocol graphs it, busy or not
      out.begin_object().key("protocol");
      write_protocol(out, t);
      out.field("series", "dpi." + t.name + ".bps").end_object();
      return 200;
    }
    out.begin_object().field("error", "no such protocol: " + std::string(label)).end_object();
    return 404;
  }
  if (path == "flows") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = FlowRow;
    ListPage<R> page(
        q,
        {{"end", [](const R& a, const R& b) { return a.flow.end_ns < b.flow.end_ns; }},
         {"start", [](const R& a, const R& b) { return a.flow.start_ns < b.flow.start_ns; }},
         {"bytes", [](const R& a, const R& b) { return a.bytes() < b.bytes(); }},
         {"packets", [](const R& a, const R& b) { return a.packets() < b.packets(); }},
         {"protocol", [](const R& a, const R& b) { return a.protocol < b.protocol; }}},
        "end", [](const R& a, const R& b) {
          return a.worker->id() != b.worker->id() ? a.worker->id() < b.worker->id()
                                                  : a.flow.id < b.flow.id;
        });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows;
    for (DpiWorker* w : workers) {
      if (!w) continue;
      const LabelTable& labels = w->labels();
      w->ended().for_each([&](const EndedFlow& f) {
        if (!window.all() && !window.overlaps(f.start_ns, f.end_ns)) return;
        std::string protocol = f.label < labels.published() ? labels.entry(f.label).name : "other";
        if (!needle.empty() && !contains(protocol, needle) && !contains(f.host, needle) &&
            !contains(address_text(f.addr[0], f.ip_version), needle) &&
            !contains(address_text(f.addr[1], f.ip_version), needle)) {
          return;
        }
        rows.push_back({w, f, std::move(protocol)});
      });
    }
    page.write(rows, out, [&](JsonWriter& o, const R& r) { write_flow(o, *r.worker, r.flow); });
    return 200;
  }
  return 404;
}

}  // namespace wiremeter::dpi

WIREMETER_ANALYZER_PLUGIN(wiremeter::dpi::DpiPlugin)
