// REST list queries for plugins: parsing `?sort=bytes&order=desc&page=1&size=100&filter=...`
// and answering with one sorted, filtered page, so that paging happens on the appliance and
// never in the browser.
//
// Not thread-safe; one per request (query hooks run on the control plane).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/json.hpp>

namespace wiremeter {

// A bad parameter; its message is the one-line error the API returns with status 400.
struct QueryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Query {
 public:
  // `now_ns`: the host's clock when the request came in (the SDK's query adapter passes it), so
  // that times may be given relative to now; 0 = unknown, relative times are then refused.
  explicit Query(std::string_view query_string, uint64_t now_ns = 0) : now_ns_(now_ns) {
    size_t pos = 0;
    while (pos <= query_string.size()) {
      size_t amp = query_string.find('&', pos);
      if (amp == std::string_view::npos) amp = query_string.size();
      std::string_view item = query_string.substr(pos, amp - pos);
      if (!item.empty()) {
        size_t eq = item.find('=');
        std::string key = decode(item.substr(0, eq));
        std::string value = eq == std::string_view::npos ? "" : decode(item.substr(eq + 1));
        params_[key] = value;
      }
      pos = amp + 1;
    }
  }

  std::optional<std::string> get(const std::string& key) const {
    auto it = params_.find(key);
    if (it == params_.end()) return std::nullopt;
    return it->second;
  }
  std::string get_or(const std::string& key, const std::string& fallback) const {
    return get(key).value_or(fallback);
  }
  uint64_t get_uint(const std::string& key, uint64_t fallback, uint64_t min, uint64_t max) const {
    auto v = get(key);
    if (!v) return fallback;
    uint64_t n = 0;
    if (v->empty() || v->size() > 19) throw QueryError(key + ": expected a whole number");
    for (char c : *v) {
      if (c < '0' || c > '9') throw QueryError(key + ": expected a whole number");
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n < min || n > max) {
      throw QueryError(key + ": must be between " + std::to_string(min) + " and " +
                       std::to_string(max));
    }
    return n;
  }
  // Unix seconds, possibly with a fraction (the `from`/`to` of time windows), as ns. A negative
  // value is seconds before now (`from=-600`: ten minutes ago; `to=-0`: now). Unlike
  // GET /api/v1/history, where 0 is now, 0 here is the Unix epoch, so that `from=0` keeps
  // meaning "from the start" in every list.
  uint64_t get_time_ns(const std::string& key, uint64_t fallback) const {
    auto v = get(key);
    if (!v) return fallback;
    bool relative = !v->empty() && (*v)[0] == '-';
    const char* digits = v->c_str() + (relative ? 1 : 0);
    char* end = nullptr;
    double s = std::strtod(digits, &end);
    if (!std::isdigit(static_cast<unsigned char>(*digits)) || *end || !(s >= 0) || s > 1e10) {
      throw QueryError(key + ": expected unix seconds, or negative seconds before now");
    }
    auto ns = static_cast<uint64_t>(s * 1e9);
    if (!relative) return ns;
    if (now_ns_ == 0) throw QueryError(key + ": relative times are not available here");
    return now_ns_ > ns ? now_ns_ - ns : 0;
  }
  uint64_t now_ns() const { return now_ns_; }
  // Every parameter must be one of `known`: a typo is an error, not a silently ignored filter.
  void allow_only(std::initializer_list<std::string_view> known) const {
    for (auto& [k, v] : params_) {
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        throw QueryError(k + ": unknown parameter");
      }
    }
  }

 private:
  static std::string decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out.push_back(' ');
      } else if (s[i] == '%' && i + 2 < s.size() &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  }

  std::map<std::string, std::string> params_;
  uint64_t now_ns_ = 0;
};

// Filters: `filter=` parameters match case-insensitively. lower() lower-cases ASCII;
// contains(hay, needle) says whether `hay` holds `needle`, which must be lower case already (an
// empty needle matches everything).
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
inline bool contains(std::string_view hay, std::string_view needle) {
  return needle.empty() || lower(hay).find(needle) != std::string::npos;
}

// The time window of a list: `from` and `to` in Unix seconds or seconds before now (either may
// be absent; see Query::get_time_ns). An entity
// belongs to the window when its activity [first seen, last seen] overlaps it.
struct TimeWindow {
  uint64_t from_ns = 0, to_ns = UINT64_MAX;
  TimeWindow() = default;
  explicit TimeWindow(const Query& q)
      : from_ns(q.get_time_ns("from", 0)), to_ns(q.get_time_ns("to", UINT64_MAX)) {
    if (from_ns > to_ns) throw QueryError("from: must not be after to");
  }
  bool all() const { return from_ns == 0 && to_ns == UINT64_MAX; }
  bool overlaps(uint64_t first_ns, uint64_t last_ns) const {
    return last_ns >= from_ns && first_ns <= to_ns;
  }
};

// One page of a list of T, sorted by a named column.
//
//   ListPage<Flow> page(query, {{"bytes", [](auto& a, auto& b) { return a.bytes < b.bytes; }},
//                               {"start", ...}}, "bytes");
//   page.write(rows, out, [](JsonWriter& w, const Flow& f) { ... });
//
// Parameters: sort (one of the columns), order (asc|desc, default desc), page (from 1),
// size (1..1000, default 100). `filter` is left to the caller (see matches()).
template <typename T>
class ListPage {
 public:
  using Less = std::function<bool(const T&, const T&)>;

  // `tie_break` orders rows that the sort column finds equal (always ascending). Give one that
  // makes the order total (a unique key), or pages can overlap or skip rows with equal values:
  // the partial sort is not stable.
  ListPage(const Query& q, std::map<std::string, Less> columns, const std::string& default_sort,
           Less tie_break = nullptr)
      : columns_(std::move(columns)), tie_break_(std::move(tie_break)) {
    sort_ = q.get_or("sort", default_sort);
    if (!columns_.count(sort_)) {
      std::string names;
      for (auto& [k, v] : columns_) names += (names.empty() ? "" : ", ") + k;
      throw QueryError("sort: must be one of " + names);
    }
    std::string order = q.get_or("order", "desc");
    if (order != "asc" && order != "desc") throw QueryError("order: must be asc or desc");
    descending_ = order == "desc";
    page_ = q.get_uint("page", 1, 1, 1u << 30);
    size_ = q.get_uint("size", 100, 1, 1000);
  }

  // Sorts only as much as the page needs (partial sort), then writes
  // {"total": N, "page": P, "size": S, "sort": "...", "order": "...", "items": [...]}.
  template <typename WriteItem>
  void write(std::vector<T>& rows, JsonWriter& out, WriteItem&& write_item) const {
    const Less& less = columns_.at(sort_);
    auto cmp = [&](const T& a, const T& b) {
      if (less(a, b)) return !descending_;
      if (less(b, a)) return descending_;
      return tie_break_ ? tie_break_(a, b) : false;
    };
    size_t begin = std::min<size_t>((page_ - 1) * size_, rows.size());
    size_t end = std::min<size_t>(begin + size_, rows.size());
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(end), rows.end(),
                      cmp);
    out.begin_object()
        .field("total", static_cast<uint64_t>(rows.size()))
        .field("page", page_)
        .field("size", size_)
        .field("sort", sort_)
        .field("order", descending_ ? "desc" : "asc");
    out.key("items").begin_array();
    for (size_t i = begin; i < end; ++i) write_item(out, rows[i]);
    out.end_array().end_object();
  }

 private:
  std::map<std::string, Less> columns_;
  Less tie_break_;
  std::string sort_;
  bool descending_ = true;
  uint64_t page_ = 1, size_ = 100;
};

}  // namespace wiremeter
