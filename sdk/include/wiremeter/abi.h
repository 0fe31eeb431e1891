/*
 * wiremeter plugin ABI, version 1.
 *
 * This is the only contract between the wiremeter host and a plugin. It is plain C so that a
 * plugin built with another compiler or standard library still loads. Most authors use the
 * C++ wrapper in <wiremeter/plugin.hpp> instead of writing against this file directly.
 *
 * Versioning rules:
 * - WM_ABI_MAJOR changes when an existing field changes meaning or moves. The host refuses a
 *   plugin whose major differs.
 * - WM_ABI_MINOR grows when fields are appended to the end of a struct. Every struct that can
 *   grow starts with `struct_size`; the host refuses structs smaller than its v1 layout and
 *   ignores appended fields it does not know.
 *
 * Threads:
 * - "control plane" hooks run on the host's main thread, one at a time.
 * - "data path" hooks run on one worker thread each; a worker context is only ever touched by
 *   its own worker, except that collect/write_json/on_tick read worker counters concurrently
 *   (use relaxed atomics for anything they read; wiremeter::Counter does this for you).
 * - Data path hooks must not block, allocate per packet, or let exceptions escape.
 */
#ifndef WIREMETER_ABI_H_
#define WIREMETER_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WM_ABI_MAJOR 1
#define WM_ABI_MINOR 1

/* The one symbol a plugin exports. */
#define WM_PLUGIN_REGISTER_SYMBOL "wiremeter_plugin_register"

#if defined(__GNUC__)
#define WM_EXPORT __attribute__((visibility("default")))
#else
#define WM_EXPORT
#endif

typedef enum wm_plugin_kind {
  WM_PLUGIN_ANALYZER = 1,   /* sees packets on the workers */
  WM_PLUGIN_MANAGEMENT = 2, /* drives the appliance; control plane only */
} wm_plugin_kind;

typedef enum wm_log_level {
  WM_LOG_ERROR = 0,
  WM_LOG_WARN = 1,
  WM_LOG_INFO = 2,
  WM_LOG_DEBUG = 3,
} wm_log_level;

/* ---------------------------------------------------------------------------------------------
 * Packet view. The core decodes each packet once and hands plugins an array of these.
 * Everything a view points to is owned by the host and valid only during the on_batch call.
 * ------------------------------------------------------------------------------------------- */

enum wm_packet_flags {
  WM_PKT_IPV4 = 1u << 0,
  WM_PKT_IPV6 = 1u << 1,
  WM_PKT_FRAGMENT = 1u << 2,       /* part of a fragmented IP datagram */
  WM_PKT_FIRST_FRAGMENT = 1u << 3, /* offset 0: carries the L4 header */
  WM_PKT_L4 = 1u << 4,             /* l4_off, ports and tcp_flags are valid */
  WM_PKT_MALFORMED = 1u << 5,      /* decoding stopped early; see decode_error */
  WM_PKT_BROADCAST = 1u << 6,      /* destination MAC ff:ff:ff:ff:ff:ff */
  WM_PKT_MULTICAST = 1u << 7,      /* group bit set in destination MAC, not broadcast */
  WM_PKT_ARP = 1u << 8,
  WM_PKT_TUNNELED = 1u << 9,     /* IPv6 in IPv4 (6in4): addresses and l3_off are the inner */
  WM_PKT_NO_ETHERNET = 1u << 10, /* ABI 1.1: the frame has no Ethernet header (raw IP, BSD
                                  * loopback, Linux cooked capture): no MAC addresses at data */
};

enum wm_direction {
  WM_DIR_FORWARD = 0, /* from the flow's initiator (first packet seen) */
  WM_DIR_REVERSE = 1,
};

/* The public part of a flow record. Read-only for plugins. */
typedef struct wm_flow_info {
  uint64_t id;         /* unique per worker; (worker, id) is unique per process */
  uint64_t first_ns;   /* timestamp of the first packet */
  uint64_t last_ns;    /* timestamp of the latest packet */
  uint64_t packets[2]; /* indexed by enum wm_direction */
  uint64_t bytes[2];   /* frame bytes (all mbuf segments), indexed by enum wm_direction */
  uint8_t addr[2][16]; /* initiator, responder; IPv4 uses the first 4 bytes */
  uint16_t port[2];    /* initiator, responder; 0 when the protocol has none */
  uint16_t vlan;       /* outer VLAN id, 0 when untagged */
  uint8_t ip_version;  /* 4 or 6 */
  uint8_t l4_proto;    /* IANA protocol number */
  uint8_t end_reason;  /* enum wm_flow_end_reason; valid in on_flow_end */
  uint8_t worker;      /* worker that owns the flow */
  uint16_t app_label;  /* ABI 1.1: application label id (0 = not known yet), set by the DPI
                        * module through flow_set_label; its name via label_name */
} wm_flow_info;

typedef enum wm_flow_end_reason {
  WM_FLOW_ACTIVE = 0,
  WM_FLOW_IDLE_TIMEOUT = 1,
  WM_FLOW_EVICTED = 2, /* memory budget reached; least recently active flow removed */
  WM_FLOW_SHUTDOWN = 3,
} wm_flow_end_reason;

typedef struct wm_packet {
  const uint8_t* data;      /* first byte of the frame */
  uint64_t ts_ns;           /* capture or arrival time, ns since the Unix epoch */
  const wm_flow_info* flow; /* NULL when the packet belongs to no flow (ARP, bad header) */
  uint8_t* flow_state;      /* base of the per-plugin flow state area; NULL without a flow */
  uint32_t cap_len;         /* bytes readable at data */
  uint32_t wire_len;        /* frame length on the wire (>= cap_len) */
  uint16_t port;            /* receiving port id */
  uint16_t l3_off;          /* offset of the IP (or ARP) header; 0 when absent */
  uint16_t l4_off;          /* offset of the L4 header; valid with WM_PKT_L4 */
  uint16_t payload_off;     /* offset of the L4 payload */
  uint16_t payload_len;     /* captured payload bytes from payload_off */
  uint16_t ether_type;      /* innermost ethertype, host order */
  uint16_t vlan[2];         /* outer and inner VLAN id */
  uint32_t mpls_label;      /* top MPLS label */
  uint32_t flags;           /* enum wm_packet_flags */
  uint16_t src_port;        /* host order */
  uint16_t dst_port;        /* host order */
  uint8_t vlan_count;       /* 0..2 (more tags are skipped) */
  uint8_t mpls_count;
  uint8_t ip_version; /* 0, 4 or 6 */
  uint8_t l4_proto;   /* IANA protocol number; 0 without IP */
  uint8_t tcp_flags;  /* FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 */
  uint8_t direction;  /* enum wm_direction, valid with flow */
  uint8_t dscp;
  uint8_t decode_error; /* a core decode error code, 0 when the packet decoded fully */
  uint8_t src_addr[16]; /* IPv4 uses the first 4 bytes */
  uint8_t dst_addr[16];
} wm_packet;

/* ---------------------------------------------------------------------------------------------
 * Host services.
 * ------------------------------------------------------------------------------------------- */

typedef struct wm_port_info {
  uint32_t struct_size;
  uint16_t id;
  uint8_t link_up;
  uint8_t reserved;
  uint32_t speed_mbps;
  const char* name; /* owned by the host, valid for the process lifetime */
  const char* driver;
  /* Hardware/driver counters (rte_eth_stats) */
  uint64_t hw_rx_packets, hw_rx_bytes, hw_tx_packets, hw_tx_bytes;
  uint64_t rx_missed, rx_errors, tx_errors, rx_nombuf;
  /* Counters kept by the workers */
  uint64_t tx_packets, tx_bytes, tx_dropped;
} wm_port_info;

typedef enum wm_metric_type {
  WM_METRIC_COUNTER = 0,
  WM_METRIC_GAUGE = 1,
  WM_METRIC_HISTOGRAM = 2,
} wm_metric_type;

/* Everything the host offers a plugin. Owned by the host; valid until the plugin is destroyed.
 * All functions are control-plane only unless marked otherwise. */
typedef struct wm_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  void* host; /* pass back as the first argument */

  /* Any thread. `msg` is one line; the host adds plugin name and level. */
  void (*log)(void* host, int level, const char* msg);
  /* Any thread. Wall-clock ns since the Unix epoch. */
  uint64_t (*now_ns)(void* host);
  /* The plugin's config section as JSON text ("{}" when absent). The string stays valid until
   * the next call of config_json from this plugin. */
  const char* (*config_json)(void* host);
  /* Declares a metric family. Returns an id >= 0 to use in wm_metric_sink, or -1 (and logs why)
   * when the name is not a valid Prometheus name or is already taken. Call from create(). */
  int (*register_metric)(void* host, const char* name, const char* help, int type);
  uint16_t (*port_count)(void* host);
  /* Fills `out` (whose struct_size the caller sets). Returns 0, or -1 for an unknown port. */
  int (*port_info)(void* host, uint16_t port, wm_port_info* out);

  /* ---- ABI 1.1 (check struct_size before use) ---- */
  /* Adds this second's value to the time series "<plugin>.<name>" (1 s resolution, downsampled
   * for longer history; see GET /api/v1/history). Call from on_tick. Returns 0, or -1 when the
   * host's series limit is reached. */
  int (*record_series)(void* host, const char* name, double value);
  /* Application labels shared between modules (the DPI module sets them, others read
   * wm_flow_info.app_label). label_id interns a name and returns its id (1..65535; 0 when the
   * table is full); any thread, takes a lock: cache the ids. label_name returns the name of an
   * id ("" for 0 or unknown), valid for the process lifetime; any thread, lock-free. */
  uint16_t (*label_id)(void* host, const char* name);
  const char* (*label_name)(void* host, uint16_t id);
  /* Data path: sets the flow's app_label. Only on the worker that owns the flow. A plugin that
   * has set labels gets on_flow_end before the others, so a label decided at the end of a flow
   * still reaches them. */
  void (*flow_set_label)(void* host, const wm_flow_info* flow, uint16_t id);
} wm_host_api;

/* Where collect() puts its samples. Label names/values are parallel arrays of n_labels. */
typedef struct wm_metric_sink {
  void* ctx;
  void (*sample)(void* ctx, int metric_id, const char* const* label_names,
                 const char* const* label_values, uint32_t n_labels, double value);
  /* Cumulative histogram: counts[i] counts observations <= bounds[i]; counts[n_bounds] is the
   * total count (+Inf). */
  void (*histogram)(void* ctx, int metric_id, const char* const* label_names,
                    const char* const* label_values, uint32_t n_labels, const double* bounds,
                    const uint64_t* counts, uint32_t n_bounds, double sum);
} wm_metric_sink;

/* Where write_json() puts one complete JSON value (call write once or several times; the
 * pieces are concatenated). */
typedef struct wm_json_sink {
  void* ctx;
  void (*write)(void* ctx, const char* data, size_t len);
} wm_json_sink;

typedef struct wm_worker_info {
  uint32_t struct_size;
  uint32_t worker_id; /* 0..n_workers-1 */
  uint32_t n_workers;
  uint32_t flow_state_offset; /* this plugin's state is at wm_packet.flow_state + offset */
  int32_t numa_socket;
} wm_worker_info;

/* ---------------------------------------------------------------------------------------------
 * Plugin descriptor.
 * ------------------------------------------------------------------------------------------- */

typedef struct wm_analyzer_hooks {
  uint32_t struct_size;
  /* Bytes of per-flow state the core allocates next to each flow, zeroed at flow creation. */
  uint32_t flow_state_size;
  /* Control plane, once per worker before traffic starts. Returns the worker context. */
  void* (*worker_init)(void* plugin, const wm_worker_info* info);
  void (*worker_fini)(void* worker);
  /* Data path. */
  void (*on_batch)(void* worker, const wm_packet* packets, uint32_t n);
  /* Data path, optional. Called before a flow's state is released. `flow_state` points at this
   * plugin's own slice (base + flow_state_offset), not at the base of the area. */
  void (*on_flow_end)(void* worker, const wm_flow_info* flow, uint8_t* flow_state);
  /* Control plane, optional. Read worker counters and emit samples / JSON. */
  void (*collect)(void* plugin, void* const* workers, uint32_t n_workers,
                  const wm_metric_sink* sink);
  void (*write_json)(void* plugin, void* const* workers, uint32_t n_workers,
                     const wm_json_sink* out);
  /* Control plane, optional, about once per second: rates and history. */
  void (*on_tick)(void* plugin, void* const* workers, uint32_t n_workers, uint64_t now_ns);

  /* ---- ABI 1.1 ---- */
  /* Data path, optional. Called on each worker's own thread about every 100 ms, with or
   * without traffic (offline: every 100 ms of capture time), and once more after the last
   * flows ended at shutdown (then from the control thread, with the worker stopped). The place
   * to publish snapshots for the control plane and to age per-worker state. */
  void (*worker_tick)(void* worker, uint64_t now_ns);
  /* Control plane, optional. Answers GET /api/v1/<plugin>/<path>?<query_string> (path without
   * leading slash, query string still URL-encoded, both never NULL). Writes one JSON value to
   * `out` and returns the HTTP status: 200, 400 with {"error": "..."}, or 404. */
  int (*query)(void* plugin, void* const* workers, uint32_t n_workers, const char* path,
               const char* query_string, const wm_json_sink* out);
} wm_analyzer_hooks;

/* Size of the ABI 1.0 analyzer hooks: the host accepts plugins built against 1.0. */
#define WM_ANALYZER_HOOKS_V1_0_SIZE offsetof(wm_analyzer_hooks, worker_tick)

typedef struct wm_management_hooks {
  uint32_t struct_size;
  /* Control plane. Validate and apply the plugin's config section. Returns 0, or -1 with a
   * one-line reason naming the field in err. */
  int (*apply_config)(void* plugin, const char* config_json, char* err, size_t err_len);
  void (*write_status)(void* plugin, const wm_json_sink* out);
  /* REST action POST /api/v1/<plugin>/<action>. Returns an HTTP status code. */
  int (*action)(void* plugin, const char* action, const char* body_json, const wm_json_sink* out);
} wm_management_hooks;

typedef struct wm_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* name; /* [a-z0-9_]+, unique; names the config section and REST path */
  const char* version;
  const char* description;
  uint32_t kind; /* enum wm_plugin_kind */
  /* Control plane. Returns the plugin context, or NULL with a one-line reason in err. */
  void* (*create)(const wm_host_api* host, char* err, size_t err_len);
  void (*destroy)(void* plugin);
  const wm_analyzer_hooks* analyzer;     /* required for WM_PLUGIN_ANALYZER */
  const wm_management_hooks* management; /* required for WM_PLUGIN_MANAGEMENT */
} wm_plugin_descriptor;

/* Exported by every plugin under the name WM_PLUGIN_REGISTER_SYMBOL. The returned descriptor
 * must stay valid while the library is loaded (a static object). */
typedef const wm_plugin_descriptor* (*wm_plugin_register_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* WIREMETER_ABI_H_ */
