// dhcp: the DHCP view of the network.
//
// Reads DHCPv4 on UDP 67/68 (both ports in {67, 68}: client, server and relay traffic) and
// keeps, per worker: clients by MAC (hostname, vendor class, requested / offered / assigned
// address, lease, server, message counts), servers (offers, ACKs, NAKs, leases granted, distinct
// clients, DISCOVER -> OFFER and REQUEST -> ACK times, the options they hand out), leases by
// address, message-type counters and a log of transactions that groups messages by transaction
// id the way Zeek's dhcp.log does. DHCPv6 (UDP 546/547) is counted by message type.
//
// The control plane merges the workers' tables at query time (see dhcp_tables.hpp for why every
// merged value carries its time).
//
// Malformed messages become counters by reason (dhcp_parser.hpp); messages cut by IP
// fragmentation or the snap length are counted apart as incomplete.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/rate_feed.hpp>
#include <wiremeter/record_log.hpp>
#include <wiremeter/top_series.hpp>

#include "dhcp_config.hpp"
#include "dhcp_parser.hpp"
#include "dhcp_tables.hpp"

namespace wiremeter::dhcp {

// Zeek's grouping (join_data in base/protocols/dhcp/main.zeek): a transaction id's record is
// looked at 10 s after it was created and every 5 s after; it is written when no message came
// for 5 s or it is older than 30 s (max_txid_watch_time). So: a message joins the open record of
// its xid unless that record is at least kTxMinAgeNs old and idle for more than kTxIdleNs or
// older than kTxMaxAgeNs.
inline constexpr uint64_t kTxMinAgeNs = 10'000'000'000ull;
inline constexpr uint64_t kTxIdleNs = 5'000'000'000ull;
inline constexpr uint64_t kTxMaxAgeNs = 30'000'000'000ull;

enum class Incomplete : uint8_t { kIpFragment, kSnaplen, kCount };
inline constexpr size_t kIncompleteCount = static_cast<size_t>(Incomplete::kCount);
const char* incomplete_name(Incomplete i);

// One per worker thread.
//
// Thread-safety: on_batch and worker_tick run on the worker's thread. The Counters may be read
// from any thread. The tables are read by the control plane under lock(); the worker takes the
// same lock once per batch that holds DHCP, never for other traffic. The transaction log has its
// own lock.
class Worker {
 public:
  Worker(const Limits& limits, RequestClock* clock);

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void worker_tick(uint64_t now_ns) noexcept;

  std::array<Counter, kTypeCount> messages;       // DHCPv4 by type index
  std::array<Counter, kV6TypeCount> v6_messages;  // DHCPv6 by type index
  std::array<Counter, kErrorCount> malformed;
  std::array<Counter, kIncompleteCount> incomplete;
  Counter no_mac;          // messages without an Ethernet chaddr or client id: no client row
  Counter untimed_offers;  // OFFERs whose DISCOVER was not seen (or is a minute old)
  Counter untimed_acks;    // ACKs / NAKs whose REQUEST or INFORM was not seen
  Counter latest_ns;       // the latest packet or tick time: "now" for lease expiry
  std::array<Counter, kRttBuckets> offer_rtt, ack_rtt;  // per bucket, not cumulative
  Counter offer_rtt_sum_us, ack_rtt_sum_us;

  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }
  // Read only under lock().
  const LruTable<ClientEntry>& clients() const { return clients_; }
  const LruTable<ServerEntry>& servers() const { return servers_; }
  const LruTable<LeaseEntry>& leases() const { return leases_; }
  const LruTable<Transaction>& open_transactions() const { return open_; }
  // Has its own lock.
  const RecordLog<Transaction>& transactions() const { return log_; }

 private:
  void handle_v4(const wm_packet& p) noexcept;
  void handle_v6(const wm_packet& p) noexcept;
  void update_client(const wm_packet& p, uint64_t mac, uint32_t server) noexcept;
  uint32_t update_server(const wm_packet& p, uint64_t mac) noexcept;
  void update_lease(const wm_packet& p, uint64_t mac, uint32_t server) noexcept;
  void update_transaction(const wm_packet& p) noexcept;
  void close(uint64_t xid) noexcept;
  void expire(uint64_t now_ns) noexcept;

  Limits limits_;
  RequestClock* clock_;
  mutable std::mutex mutex_;
  LruTable<ClientEntry> clients_;
  LruTable<ServerEntry> servers_;
  LruTable<LeaseEntry> leases_;
  LruTable<Transaction> open_;
  RecordLog<Transaction> log_;
  std::vector<uint64_t> expired_;  // scratch for expire(), reserved for every open xid
  Message msg_;                    // the message being handled: one per worker, not on the stack
};

// A lease merged over the workers, with what the query adds.
struct LeaseRow {
  LeaseEntry lease;
  const char* state = "active";  // active, expired, released, declined
  uint64_t expiry_ns = 0;        // 0: no lease time, or infinite
};

class Plugin {
 public:
  using Worker = dhcp::Worker;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);

  // Merged views of the workers (control plane; they allocate).
  struct Totals {
    std::array<uint64_t, kTypeCount> messages{};
    std::array<uint64_t, kV6TypeCount> v6_messages{};
    std::array<uint64_t, kErrorCount> malformed{};
    std::array<uint64_t, kIncompleteCount> incomplete{};
    uint64_t no_mac = 0, untimed_offers = 0, untimed_acks = 0, latest_ns = 0;
    ResponseStats offer_rtt, ack_rtt;  // min/max unknown here: 0
    uint64_t evicted_clients = 0, evicted_servers = 0, evicted_leases = 0, evicted_open = 0;
    uint64_t transactions_dropped = 0;
  };
  static Totals totals(std::span<Worker* const> workers);
  static std::vector<ClientEntry> clients(std::span<Worker* const> workers);
  static std::vector<ServerEntry> servers(std::span<Worker* const> workers);
  // Every client's (by MAC) and server's (by address) messages so far, summed over the workers
  // into the feeds: what the graphs need each second, without copying the tables' rows.
  // `scratch` keeps its capacity (rows of full tables by `limits`) from tick to tick.
  struct MessageCount {
    uint64_t key;  // MAC or IPv4 address
    uint64_t messages;
  };
  static void message_totals(std::span<Worker* const> workers, const Limits& limits,
                             std::vector<MessageCount>& scratch, RateFeed& clients,
                             RateFeed& servers);
  // `now_ns` decides active / expired; the client rows fill in host names the ACK did not carry.
  static std::vector<LeaseRow> leases(std::span<Worker* const> workers, uint64_t now_ns,
                                      const std::vector<ClientEntry>& clients);
  // Closed and open records of all workers, the parts of one transaction that different workers
  // saw joined, oldest first.
  static std::vector<Transaction> transactions(std::span<Worker* const> workers);

 private:
  Host& host_;
  Limits limits_;
  std::unique_ptr<RequestClock> clock_;
  int messages_id_, v6_messages_id_, malformed_id_, incomplete_id_, response_id_, server_offers_id_,
      server_acks_id_, server_naks_id_, clients_id_, leases_id_, evicted_id_;
  std::atomic<double> messages_per_s_{0};
  uint64_t last_tick_ns_ = 0, last_messages_ = 0;
  // Graphs of the busiest clients ("dhcp.<mac>.messages_per_s": messages from and to it) and
  // servers ("dhcp.<address>.messages_per_s": messages it sent), and of the one whose detail
  // view is open.
  TopSeries client_series_{10, 60, 1.0, ".messages_per_s"};
  TopSeries server_series_{10, 60, 1.0, ".messages_per_s"};
  // Up to a million clients: their last second is worked out by MAC, not by formatted key.
  RateFeed client_feed_, server_feed_;
  std::vector<MessageCount> tick_scratch_;
};

std::string format_ip(uint32_t ip);
std::string format_mac(uint64_t mac);
// "aa:bb:cc:dd:ee:ff" (any case, ':' or '-') -> the MAC; false when it is not one.
bool parse_mac(std::string_view text, uint64_t& mac);
// "192.0.2.1" (four decimal numbers 0..255) -> the address; false when it is not one.
bool parse_ip(std::string_view text, uint32_t& ip);
// Zeek's fields of a (merged) transaction.
uint32_t tx_client_addr(const Transaction& t);
uint64_t tx_mac(const Transaction& t);

}  // namespace wiremeter::dhcp
