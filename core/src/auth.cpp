#include "wiremeter/core/auth.hpp"

#include <crypt.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <sys/random.h>

#include <cstring>
#include <stdexcept>

namespace wiremeter::core {

namespace {

constexpr int kMaxFailures = 5;
constexpr auto kFailureWindow = std::chrono::seconds(60);
constexpr auto kLockout = std::chrono::seconds(60);
constexpr auto kSessionLifetime = std::chrono::hours(8);

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string hash_password(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt)) {
    throw std::runtime_error("crypt_gensalt failed");
  }
  crypt_data data{};
  const char* h = crypt_rn(password.c_str(), salt, &data, sizeof data);
  if (!h || h[0] == '*') throw std::runtime_error("crypt failed");
  return h;
}

bool verify_password(const std::string& password, const std::string& hash) {
  crypt_data data{};
  const char* h = crypt_rn(password.c_str(), hash.c_str(), &data, sizeof data);
  return h && h[0] != '*' && constant_time_equal(h, hash);
}

std::string sha256_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

Auth::Auth(Config& config, std::mutex& config_mutex)
    : config_(config),
      config_mutex_(config_mutex),
      default_hash_(hash_password(kDefaultPassword)) {}

std::vector<UserConfig> Auth::users_locked() {
  std::lock_guard lock(config_mutex_);
  auto users = config_.settings().users;
  if (users.empty()) users.push_back({kDefaultUser, default_hash_, true});
  return users;
}

Auth::LoginResult Auth::login(const std::string& client, const std::string& user,
                              const std::string& password) {
  auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    Failures& f = failures_[client];
    if (f.locked_until > now) {
      int wait =
          static_cast<int>(std::chrono::ceil<std::chrono::seconds>(f.locked_until - now).count());
      return {LoginOutcome::kRateLimited, {}, {}, wait};
    }
  }
  // The slow hash runs outside our lock so that one login does not stall the others.
  std::optional<UserConfig> match;
  for (auto& u : users_locked()) {
    if (u.name == user) match = u;
  }
  bool ok = match && verify_password(password, match->password_hash);
  if (!match) verify_password(password, default_hash_);  // same cost for unknown users
  std::lock_guard lock(mutex_);
  if (!ok) {
    Failures& f = failures_[client];
    std::erase_if(f.times, [&](auto t) { return now - t > kFailureWindow; });
    f.times.push_back(now);
    if (f.times.size() >= kMaxFailures) {
      f.locked_until = now + kLockout;
      f.times.clear();
    }
    return {LoginOutcome::kBadCredentials, {}, {}, 0};
  }
  failures_.erase(client);
  std::string id = random_hex(32);
  sessions_[id] = {user, now + kSessionLifetime};
  // Forget expired sessions now and then; the map stays small.
  std::erase_if(sessions_, [&](auto& kv) { return kv.second.expires < now; });
  return {LoginOutcome::kOk, id, {user, match->must_change_password, false}, 0};
}

void Auth::logout(const std::string& session) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session);
}

std::optional<Principal> Auth::from_session(const std::string& session) {
  std::string user;
  {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return std::nullopt;
    if (it->second.expires < Clock::now()) {
      sessions_.erase(it);
      return std::nullopt;
    }
    user = it->second.user;
  }
  for (auto& u : users_locked()) {
    if (u.name == user) return Principal{user, u.must_change_password, false};
  }
  return std::nullopt;
}

std::optional<Principal> Auth::from_token(const std::string& token) {
  std::string digest = sha256_hex(token);
  std::lock_guard lock(config_mutex_);
  for (auto& t : config_.settings().tokens) {
    if (constant_time_equal(t.sha256, digest)) return Principal{"token:" + t.name, false, true};
  }
  return std::nullopt;
}

Result<void> Auth::change_password(const std::string& user, const std::string& old_password,
                                   const std::string& new_password) {
  std::optional<UserConfig> match;
  for (auto& u : users_locked()) {
    if (u.name == user) match = u;
  }
  if (!match) return make_error("unknown user");
  if (!verify_password(old_password, match->password_hash)) {
    return make_error("the current password is wrong");
  }
  if (new_password.size() < kMinPasswordLength) {
    return make_error("the new password must have at least " + std::to_string(kMinPasswordLength) +
                      " characters");
  }
  if (new_password == old_password) return make_error("the new password must differ");
  std::string hash = hash_password(new_password);
  std::lock_guard lock(config_mutex_);
  auto users = config_.settings().users;
  if (users.empty()) users.push_back({kDefaultUser, default_hash_, true});
  return config_.update([&](rapidjson::Document& d) {
    auto& a = d.GetAllocator();
    if (!d.HasMember("auth")) d.AddMember("auth", rapidjson::Value(rapidjson::kObjectType), a);
    rapidjson::Value& auth = d["auth"];
    rapidjson::Value list(rapidjson::kArrayType);
    for (auto& u : users) {
      rapidjson::Value o(rapidjson::kObjectType);
      bool me = u.name == user;
      o.AddMember("name", rapidjson::Value(u.name.c_str(), a), a);
      o.AddMember("password_hash", rapidjson::Value((me ? hash : u.password_hash).c_str(), a), a);
      o.AddMember("must_change_password", me ? false : u.must_change_password, a);
      list.PushBack(o, a);
    }
    if (auth.HasMember("users")) auth.RemoveMember("users");
    auth.AddMember("users", list, a);
  });
}

Result<std::string> Auth::create_token(const std::string& name) {
  if (name.empty() || name.size() > 64) return make_error("name: 1 to 64 characters");
  std::string token = "wmt_" + random_hex(24);
  std::string digest = sha256_hex(token);
  std::lock_guard lock(config_mutex_);
  for (auto& t : config_.settings().tokens) {
    if (t.name == name) return make_error("name: a token named \"" + name + "\" exists");
  }
  auto r = config_.update([&](rapidjson::Document& d) {
    auto& a = d.GetAllocator();
    if (!d.HasMember("auth")) d.AddMember("auth", rapidjson::Value(rapidjson::kObjectType), a);
    rapidjson::Value& auth = d["auth"];
    if (!auth.HasMember("tokens")) {
      auth.AddMember("tokens", rapidjson::Value(rapidjson::kArrayType), a);
    }
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("name", rapidjson::Value(name.c_str(), a), a);
    o.AddMember("sha256", rapidjson::Value(digest.c_str(), a), a);
    auth["tokens"].PushBack(o, a);
  });
  if (!r) return make_error(r.error());
  return token;
}

std::vector<std::string> Auth::token_names() {
  std::lock_guard lock(config_mutex_);
  std::vector<std::string> names;
  for (auto& t : config_.settings().tokens) names.push_back(t.name);
  return names;
}

void Auth::reload() {
  std::lock_guard lock(mutex_);
  sessions_.clear();
}

}  // namespace wiremeter::core
