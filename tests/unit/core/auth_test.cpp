#include "wiremeter/core/auth.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace wiremeter::core {
namespace {

TEST(Auth, HashesAreSaltedAndVerify) {
  std::string a = hash_password("allegro");
  std::string b = hash_password("allegro");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("$y$", 0), 0u);
  EXPECT_TRUE(verify_password("allegro", a));
  EXPECT_FALSE(verify_password("Allegro", a));
}

struct AuthFixture : ::testing::Test {
  std::string path =
      (std::filesystem::temp_directory_path() / ("wm-auth-" + std::to_string(getpid()) + ".json"))
          .string();
  std::mutex m;
  Config config = [&] {
    std::filesystem::remove(path);
    return std::move(Config::load(path, "/d").value());
  }();
  Auth auth{config, m};
};

TEST_F(AuthFixture, DefaultLoginAsksForANewPassword) {
  auto r = auth.login("198.18.0.9", "admin", "allegro");
  ASSERT_EQ(r.outcome, Auth::LoginOutcome::kOk);
  EXPECT_TRUE(r.principal.must_change_password);
  auto who = auth.from_session(r.session);
  ASSERT_TRUE(who);
  EXPECT_TRUE(who->must_change_password);

  EXPECT_FALSE(auth.change_password("admin", "allegro", "short"));
  EXPECT_FALSE(auth.change_password("admin", "wrong", "long enough pw"));
  ASSERT_TRUE(auth.change_password("admin", "allegro", "long enough pw"));
  who = auth.from_session(r.session);
  ASSERT_TRUE(who);
  EXPECT_FALSE(who->must_change_password);
  // Stored hashed, never in clear.
  EXPECT_EQ(config.to_json().find("long enough pw"), std::string::npos);
  EXPECT_EQ(auth.login("198.18.0.9", "admin", "allegro").outcome,
            Auth::LoginOutcome::kBadCredentials);
  EXPECT_EQ(auth.login("198.18.0.9", "admin", "long enough pw").outcome, Auth::LoginOutcome::kOk);
}

TEST_F(AuthFixture, LoginIsRateLimitedPerClient) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth.login("198.18.0.7", "admin", "nope").outcome,
              Auth::LoginOutcome::kBadCredentials);
  }
  auto r = auth.login("198.18.0.7", "admin", "allegro");
  EXPECT_EQ(r.outcome, Auth::LoginOutcome::kRateLimited);
  EXPECT_GT(r.retry_after_s, 0);
  // Another client is not affected.
  EXPECT_EQ(auth.login("198.18.0.8", "admin", "allegro").outcome, Auth::LoginOutcome::kOk);
}

TEST_F(AuthFixture, TokensAreStoredAsDigests) {
  auto t = auth.create_token("prometheus");
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t.value().rfind("wmt_", 0), 0u);
  EXPECT_TRUE(auth.from_token(t.value()));
  EXPECT_FALSE(auth.from_token(t.value() + "x"));
  EXPECT_EQ(config.to_json().find(t.value()), std::string::npos);
  EXPECT_FALSE(auth.create_token("prometheus"));
}

}  // namespace
}  // namespace wiremeter::core
