#include "wiremeter/core/config.hpp"

#include <fcntl.h>
#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace wiremeter::core {

const char* const kDefaultConfigJson = R"json({
  "eal": {"memory_mb": 512, "hugepages": "auto", "extra_args": []},
  "log_level": "info",
  "workers": 1,
  "ports": [
    {"name": "demo0",
     "devargs": "net_pcap_demo0,rx_pcap=@DATADIR@/demo.pcap,infinite_rx=1",
     "timestamps": "arrival", "rx_limit_pps": 20000}
  ],
  "link": {"mode": "bridge", "pairs": []},
  "flows": {"memory_mb": 256, "tcp_timeout_s": 300, "udp_timeout_s": 60, "other_timeout_s": 30},
  "http": {"listen": "8080", "metrics_require_auth": false},
  "auth": {},
  "plugins": {}
})json";

const char* link_mode_name(LinkMode m) { return m == LinkMode::kBridge ? "bridge" : "sink"; }

std::optional<LinkMode> parse_link_mode(std::string_view s) {
  if (s == "bridge") return LinkMode::kBridge;
  if (s == "sink") return LinkMode::kSink;
  return std::nullopt;
}

LinkMode Settings::effective_mode(const PairConfig& p) const {
  if (link_mode == "bridge") return LinkMode::kBridge;
  if (link_mode == "sink") return LinkMode::kSink;
  return p.mode;
}

namespace {

// Reads one JSON object field by field, remembering the path for error messages, and rejects
// fields it was not asked about (typos are the most common config mistake).
class ObjectReader {
 public:
  ObjectReader(const rapidjson::Value& v, std::string path) : v_(v), path_(std::move(path)) {}

  std::string where(const char* key) const {
    return path_.empty() ? std::string(key) : path_ + "." + key;
  }
  const rapidjson::Value* get(const char* key) {
    seen_.insert(key);
    auto it = v_.FindMember(key);
    return it == v_.MemberEnd() ? nullptr : &it->value;
  }
  void str(const char* key, std::string& out, bool required = false) {
    if (auto* f = get(key)) {
      if (!f->IsString()) throw Error{where(key) + ": expected a string"};
      out = f->GetString();
    } else if (required) {
      throw Error{where(key) + ": required field is missing"};
    }
  }
  template <typename T>
  void uint(const char* key, T& out, uint64_t min, uint64_t max) {
    if (auto* f = get(key)) {
      if (!f->IsUint64()) throw Error{where(key) + ": expected a whole number"};
      uint64_t v = f->GetUint64();
      if (v < min || v > max) {
        throw Error{where(key) + ": must be between " + std::to_string(min) + " and " +
                    std::to_string(max)};
      }
      out = static_cast<T>(v);
    }
  }
  void boolean(const char* key, bool& out) {
    if (auto* f = get(key)) {
      if (!f->IsBool()) throw Error{where(key) + ": expected true or false"};
      out = f->GetBool();
    }
  }
  void finish() const {
    for (auto& m : v_.GetObject()) {
      if (!seen_.count(m.name.GetString())) {
        throw Error{where(m.name.GetString()) + ": unknown field"};
      }
    }
  }

 private:
  const rapidjson::Value& v_;
  std::string path_;
  std::set<std::string> seen_;
};

ObjectReader object_at(const rapidjson::Value* v, const std::string& path) {
  if (!v->IsObject()) throw Error{path + ": expected an object"};
  return ObjectReader(*v, path);
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

Settings parse_settings(const rapidjson::Value& doc) {
  Settings s;
  if (!doc.IsObject()) throw Error{"the document must be a JSON object"};
  ObjectReader top(doc, "");
  if (auto* eal = top.get("eal")) {
    auto r = object_at(eal, "eal");
    r.uint("memory_mb", s.eal_memory_mb, 64, 1 << 20);
    r.str("hugepages", s.eal_hugepages);
    if (s.eal_hugepages != "auto" && s.eal_hugepages != "on" && s.eal_hugepages != "off") {
      throw Error{"eal.hugepages: must be \"auto\", \"on\" or \"off\""};
    }
    if (auto* a = r.get("extra_args")) {
      if (!a->IsArray()) throw Error{"eal.extra_args: expected an array of strings"};
      for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
        if (!(*a)[i].IsString()) {
          throw Error{"eal.extra_args[" + std::to_string(i) + "]: expected a string"};
        }
        s.eal_extra_args.emplace_back((*a)[i].GetString());
      }
    }
    r.finish();
  }
  top.str("log_level", s.log_level);
  if (s.log_level != "error" && s.log_level != "warn" && s.log_level != "info" &&
      s.log_level != "debug") {
    throw Error{"log_level: must be \"error\", \"warn\", \"info\" or \"debug\""};
  }
  top.uint("workers", s.workers, 1, 64);
  top.uint("mbufs_per_queue", s.mbufs_per_queue, 1024, 1 << 20);

  std::set<std::string> port_names, devices;
  if (auto* ports = top.get("ports")) {
    if (!ports->IsArray()) throw Error{"ports: expected an array"};
    for (rapidjson::SizeType i = 0; i < ports->Size(); ++i) {
      std::string path = "ports[" + std::to_string(i) + "]";
      auto r = object_at(&(*ports)[i], path);
      PortConfig p;
      r.str("name", p.name, true);
      r.str("devargs", p.devargs, true);
      std::string ts = "arrival";
      r.str("timestamps", ts);
      if (ts != "arrival" && ts != "capture") {
        throw Error{path + ".timestamps: must be \"arrival\" or \"capture\""};
      }
      p.capture_timestamps = ts == "capture";
      r.uint("rx_limit_pps", p.rx_limit_pps, 0, 1'000'000'000);
      r.finish();
      if (!valid_name(p.name)) {
        throw Error{path + ".name: use 1-32 letters, digits, '-', '_' or '.'"};
      }
      if (!port_names.insert(p.name).second) {
        throw Error{path + ".name: port \"" + p.name + "\" is defined twice"};
      }
      if (p.devargs.empty()) throw Error{path + ".devargs: must not be empty"};
      std::string device = p.devargs.substr(0, p.devargs.find(','));
      // 03:00.0 and 0000:03:00.0 are the same PCI device.
      if (std::count(device.begin(), device.end(), ':') == 1 &&
          device.find('.') != std::string::npos) {
        device = "0000:" + device;
      }
      if (!devices.insert(device).second) {
        throw Error{path + ".devargs: device \"" + device + "\" is already used by another port"};
      }
      s.ports.push_back(std::move(p));
    }
  }

  if (auto* link = top.get("link")) {
    auto r = object_at(link, "link");
    r.str("mode", s.link_mode);
    if (s.link_mode != "bridge" && s.link_mode != "sink" && s.link_mode != "mixed") {
      throw Error{"link.mode: must be \"bridge\", \"sink\" or \"mixed\""};
    }
    std::set<std::string> paired, pair_names;
    if (auto* pairs = r.get("pairs")) {
      if (!pairs->IsArray()) throw Error{"link.pairs: expected an array"};
      for (rapidjson::SizeType i = 0; i < pairs->Size(); ++i) {
        std::string path = "link.pairs[" + std::to_string(i) + "]";
        auto pr = object_at(&(*pairs)[i], path);
        PairConfig p;
        pr.str("name", p.name, true);
        std::string mode = "bridge";
        pr.str("mode", mode);
        auto m = parse_link_mode(mode);
        if (!m) throw Error{path + ".mode: must be \"bridge\" or \"sink\""};
        p.mode = *m;
        auto* pp = pr.get("ports");
        if (!pp || !pp->IsArray() || pp->Size() != 2 || !(*pp)[0].IsString() ||
            !(*pp)[1].IsString()) {
          throw Error{path + ".ports: expected two port names"};
        }
        pr.finish();
        if (!valid_name(p.name)) throw Error{path + ".name: use 1-32 letters, digits, '-', '_'"};
        if (!pair_names.insert(p.name).second) {
          throw Error{path + ".name: pair \"" + p.name + "\" is defined twice"};
        }
        for (int k = 0; k < 2; ++k) {
          p.ports[k] = (*pp)[k].GetString();
          if (!port_names.count(p.ports[k])) {
            throw Error{path + ".ports: no port named \"" + p.ports[k] + "\""};
          }
          if (!paired.insert(p.ports[k]).second) {
            throw Error{path + ".ports: port \"" + p.ports[k] + "\" is already in a pair"};
          }
        }
        s.pairs.push_back(std::move(p));
      }
    }
    r.finish();
  }

  if (auto* flows = top.get("flows")) {
    auto r = object_at(flows, "flows");
    r.uint("memory_mb", s.flow_memory_mb, 1, 1 << 20);
    uint64_t tcp = 300, udp = 60, other = 30;
    r.uint("tcp_timeout_s", tcp, 1, 86400);
    r.uint("udp_timeout_s", udp, 1, 86400);
    r.uint("other_timeout_s", other, 1, 86400);
    s.timeouts =
        FlowTimeouts{tcp * 1'000'000'000ull, udp * 1'000'000'000ull, other * 1'000'000'000ull};
    r.finish();
  }

  if (auto* http = top.get("http")) {
    auto r = object_at(http, "http");
    r.str("listen", s.http_listen);
    if (s.http_listen.empty()) throw Error{"http.listen: must not be empty"};
    r.boolean("metrics_require_auth", s.metrics_require_auth);
    r.finish();
  }

  if (auto* auth = top.get("auth")) {
    auto r = object_at(auth, "auth");
    if (auto* users = r.get("users")) {
      if (!users->IsArray()) throw Error{"auth.users: expected an array"};
      for (rapidjson::SizeType i = 0; i < users->Size(); ++i) {
        std::string path = "auth.users[" + std::to_string(i) + "]";
        auto ur = object_at(&(*users)[i], path);
        UserConfig u;
        ur.str("name", u.name, true);
        ur.str("password_hash", u.password_hash, true);
        ur.boolean("must_change_password", u.must_change_password);
        ur.finish();
        if (u.password_hash.rfind("$", 0) != 0) {
          throw Error{path + ".password_hash: not a crypt(3) hash"};
        }
        s.users.push_back(std::move(u));
      }
    }
    if (auto* tokens = r.get("tokens")) {
      if (!tokens->IsArray()) throw Error{"auth.tokens: expected an array"};
      for (rapidjson::SizeType i = 0; i < tokens->Size(); ++i) {
        std::string path = "auth.tokens[" + std::to_string(i) + "]";
        auto tr = object_at(&(*tokens)[i], path);
        TokenConfig t;
        tr.str("name", t.name, true);
        tr.str("sha256", t.sha256, true);
        tr.finish();
        if (t.sha256.size() != 64) throw Error{path + ".sha256: expected 64 hex digits"};
        s.tokens.push_back(std::move(t));
      }
    }
    r.finish();
  }

  if (auto* plugins = top.get("plugins")) {
    // Sections are validated by their plugins; here only the shape.
    if (!plugins->IsObject()) throw Error{"plugins: expected an object"};
    for (auto& m : plugins->GetObject()) {
      if (!m.value.IsObject()) {
        throw Error{std::string("plugins.") + m.name.GetString() + ": expected an object"};
      }
    }
  }
  top.str("plugin_dir", s.plugin_dir);
  top.finish();
  return s;
}

void substitute(rapidjson::Value& v, const std::string& data_dir,
                rapidjson::Document::AllocatorType& alloc) {
  if (v.IsString()) {
    std::string s = v.GetString();
    size_t pos;
    bool changed = false;
    while ((pos = s.find("@DATADIR@")) != std::string::npos) {
      s.replace(pos, 9, data_dir);
      changed = true;
    }
    if (changed) v.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), alloc);
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) substitute(e, data_dir, alloc);
  } else if (v.IsObject()) {
    for (auto& m : v.GetObject()) substitute(m.value, data_dir, alloc);
  }
}

Result<rapidjson::Document> parse_json(const std::string& text, const std::string& origin) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag>(text.c_str(),
                                                                               text.size());
  if (d.HasParseError()) {
    // Report a line number: a byte offset is useless to someone editing the file.
    size_t off = d.GetErrorOffset();
    size_t line = 1 + std::count(text.begin(), text.begin() + std::min(off, text.size()), '\n');
    return make_error(origin + ": line " + std::to_string(line) + ": " +
                      rapidjson::GetParseError_En(d.GetParseError()));
  }
  return d;
}

}  // namespace

Result<Settings> validate_config(const rapidjson::Value& doc) {
  try {
    return parse_settings(doc);
  } catch (const Error& e) {
    return e;
  }
}

Result<Config> Config::from_json(const std::string& json, const std::string& data_dir) {
  auto parsed = parse_json(json, "config");
  if (!parsed) return make_error(parsed.error());
  Config c;
  c.doc_ = std::move(parsed.value());
  c.data_dir_ = data_dir;
  substitute(c.doc_, data_dir, c.doc_.GetAllocator());
  auto s = validate_config(c.doc_);
  if (!s) return make_error("config: " + s.error());
  c.settings_ = std::move(s.value());
  return c;
}

Result<Config> Config::load(const std::string& path, const std::string& data_dir) {
  std::string text;
  if (!path.empty()) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      return make_error("config: cannot read " + path + ": not a regular file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (errno != ENOENT) {
        return make_error("config: cannot read " + path + ": " + std::strerror(errno));
      }
      text = kDefaultConfigJson;  // first start: built-in defaults, saved on the first change
    } else {
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      if (in.bad()) return make_error("config: cannot read " + path);
    }
  } else {
    text = kDefaultConfigJson;
  }
  auto parsed = parse_json(text, path.empty() ? "config" : path);
  if (!parsed) return make_error(parsed.error());
  Config c;
  c.doc_ = std::move(parsed.value());
  c.path_ = path;
  c.data_dir_ = data_dir;
  substitute(c.doc_, data_dir, c.doc_.GetAllocator());
  auto s = validate_config(c.doc_);
  if (!s) return make_error((path.empty() ? "config" : path) + ": " + s.error());
  c.settings_ = std::move(s.value());
  return c;
}

std::string Config::plugin_section(const std::string& plugin) const {
  auto p = doc_.FindMember("plugins");
  if (p == doc_.MemberEnd()) return "{}";
  auto s = p->value.FindMember(plugin.c_str());
  if (s == p->value.MemberEnd()) return "{}";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  s->value.Accept(w);
  return buf.GetString();
}

std::string Config::to_json(bool pretty) const {
  rapidjson::StringBuffer buf;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    doc_.Accept(w);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    doc_.Accept(w);
  }
  return std::string(buf.GetString()) + (pretty ? "\n" : "");
}

Result<void> Config::update(const Mutator& change) {
  rapidjson::Document copy;
  copy.CopyFrom(doc_, copy.GetAllocator());
  change(copy);
  auto s = validate_config(copy);
  if (!s) return make_error(s.error());
  if (!path_.empty()) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    copy.Accept(w);
    auto saved = write_file_atomic(path_, std::string(buf.GetString()) + "\n");
    if (!saved) return saved;
  }
  doc_.Swap(copy);
  settings_ = std::move(s.value());
  return {};
}

Result<void> Config::reset() {
  auto fresh = from_json(kDefaultConfigJson, data_dir_);
  if (!fresh) return make_error(fresh.error());
  return update([&](rapidjson::Document& d) { d.CopyFrom(fresh->doc_, d.GetAllocator()); });
}

Result<void> write_file_atomic(const std::string& path, const std::string& content) {
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  // First save on a fresh system: /etc/wiremeter may not exist yet.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot write " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error("cannot write " + tmp + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return make_error("cannot write " + tmp + ": " + err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return make_error("cannot replace " + path + ": " + err);
  }
  // The rename is only durable once the directory entry is on disk.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace wiremeter::core
