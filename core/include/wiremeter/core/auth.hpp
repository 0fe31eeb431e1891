// Users, sessions, API tokens and login rate limiting.
//
// Thread-safe: the web server calls it from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wiremeter/core/config.hpp"
#include "wiremeter/core/result.hpp"

namespace wiremeter::core {

inline constexpr const char* kDefaultUser = "admin";
inline constexpr const char* kDefaultPassword = "allegro";
inline constexpr size_t kMinPasswordLength = 8;

// crypt(3) with yescrypt: salted and deliberately slow.
std::string hash_password(const std::string& password);
bool verify_password(const std::string& password, const std::string& hash);
std::string sha256_hex(const std::string& data);
std::string random_hex(size_t bytes);

struct Principal {
  std::string user;
  bool must_change_password = false;
  bool via_token = false;
};

class Auth {
 public:
  using Clock = std::chrono::steady_clock;

  // `config` outlives Auth; user and token changes are saved through it.
  explicit Auth(Config& config, std::mutex& config_mutex);

  enum class LoginOutcome { kOk, kBadCredentials, kRateLimited };
  struct LoginResult {
    LoginOutcome outcome;
    std::string session;  // cookie value when kOk
    Principal principal;
    int retry_after_s = 0;
  };
  LoginResult login(const std::string& client, const std::string& user,
                    const std::string& password);
  void logout(const std::string& session);

  std::optional<Principal> from_session(const std::string& session);
  std::optional<Principal> from_token(const std::string& token);

  Result<void> change_password(const std::string& user, const std::string& old_password,
                               const std::string& new_password);
  Result<std::string> create_token(const std::string& name);  // returns the token, once
  std::vector<std::string> token_names();

  // Configuration was reset or replaced: sessions of vanished users end.
  void reload();

 private:
  struct Session {
    std::string user;
    Clock::time_point expires;
  };
  struct Failures {
    std::vector<Clock::time_point> times;
    Clock::time_point locked_until{};
  };
  std::vector<UserConfig> users_locked();  // with the built-in admin when none configured

  Config& config_;
  std::mutex& config_mutex_;
  std::mutex mutex_;
  std::string default_hash_;  // hash of the factory password, made once at start
  std::map<std::string, Session> sessions_;
  std::map<std::string, Failures> failures_;
};

}  // namespace wiremeter::core
