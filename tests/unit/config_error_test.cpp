// ConfigError's one-line form, and ConfigErrors: collected per file, sorted by position,
// capped at kMaxErrors with the rest counted.
#include "base/config_error.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace connwatch {
namespace {

struct ToStringCase {
  SourceLocation where;
  std::string key;
  std::string message;
  std::string expected;
};

TEST(ConfigErrorTest, ToStringLeavesOutWhatIsUnknown) {
  const std::vector<ToStringCase> cases = {
      {{"policy.yaml", 12, 5},
       "listeners[2].port",
       "port must be 1-65535, got 70000",
       "policy.yaml:12:5: listeners[2].port: port must be 1-65535, got 70000"},
      {{"policy.yaml", 3, 1}, "", "not a mapping", "policy.yaml:3:1: not a mapping"},
      {{"policy.yaml", 0, 0}, "zones", "no zones", "policy.yaml: zones: no zones"},
      {{"policy.yaml", 0, 9}, "", "cannot read it", "policy.yaml: cannot read it"},
      {{"/etc/connwatch/web.yml", 1, 120},
       "tls_server_config.cert_file",
       "missing",
       "/etc/connwatch/web.yml:1:120: tls_server_config.cert_file: missing"},
      {{"f", 2, 3}, "k", "", "f:2:3: k: "},
  };
  for (const ToStringCase& test : cases) {
    ConfigError error{test.where, test.key, test.message};
    EXPECT_EQ(error.ToString(), test.expected);
  }
}

TEST(ConfigErrorTest, JoinErrorsPutsEachOnALineWithoutATrailingNewline) {
  EXPECT_EQ(JoinErrors({}), "");
  ConfigError one{{"a.yaml", 1, 2}, "k", "first"};
  ConfigError two{{"a.yaml", 0, 0}, "", "second"};
  EXPECT_EQ(JoinErrors({one}), "a.yaml:1:2: k: first");
  EXPECT_EQ(JoinErrors({one, two}), "a.yaml:1:2: k: first\na.yaml: second");
  EXPECT_EQ(JoinErrors({two, one, two}), "a.yaml: second\na.yaml:1:2: k: first\na.yaml: second")
      << "in the order given";
}

TEST(ConfigErrorsTest, ErrorsCarryTheFileTheirPositionAndKey) {
  ConfigErrors errors("web.yml");
  EXPECT_EQ(errors.file(), "web.yml");
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(errors.count(), 0u);
  errors.At(4, 7, "basic_auth_users.alice", "not a bcrypt hash");
  EXPECT_FALSE(errors.empty());
  EXPECT_EQ(errors.count(), 1u);
  std::vector<ConfigError> taken = errors.Take();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].where.file, "web.yml");
  EXPECT_EQ(taken[0].where.line, 4);
  EXPECT_EQ(taken[0].where.column, 7);
  EXPECT_EQ(taken[0].key, "basic_auth_users.alice");
  EXPECT_EQ(taken[0].message, "not a bcrypt hash");
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(errors.count(), 0u);
  EXPECT_TRUE(errors.Take().empty()) << "taken once";
}

TEST(ConfigErrorsTest, SortsByLineThenColumnKeepingTheOrderOfTies) {
  ConfigErrors errors("f");
  errors.At(10, 1, "", "line 10");
  errors.At(2, 9, "", "2:9");
  errors.At(2, 3, "", "2:3 first");
  errors.At(11, 0, "", "line 11");
  errors.At(2, 3, "", "2:3 second");
  errors.At(9, 20, "", "line 9");
  std::vector<std::string> messages;
  for (const ConfigError& error : errors.Take()) messages.push_back(error.message);
  EXPECT_EQ(messages, (std::vector<std::string>{"2:3 first", "2:3 second", "2:9", "line 9",
                                                "line 10", "line 11"}))
      << "numerically, not as text (10 after 9)";
}

TEST(ConfigErrorsTest, SortedByPositionAndCapped) {
  ConfigErrors errors("f");
  errors.At(3, 1, "k", "third");
  errors.At(0, 0, "", "no position");
  errors.At(1, 2, "", "first");
  std::vector<ConfigError> taken = errors.Take();
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken[0].ToString(), "f: no position");
  EXPECT_EQ(taken[1].ToString(), "f:1:2: first");
  EXPECT_EQ(taken[2].ToString(), "f:3:1: k: third");
  EXPECT_EQ(JoinErrors(taken), "f: no position\nf:1:2: first\nf:3:1: k: third");
  EXPECT_TRUE(errors.empty());

  for (size_t i = 0; i < ConfigErrors::kMaxErrors + 5; ++i) errors.At(1, 1, "", "x");
  EXPECT_EQ(errors.count(), ConfigErrors::kMaxErrors + 5);
  taken = errors.Take();
  ASSERT_EQ(taken.size(), ConfigErrors::kMaxErrors + 1);
  EXPECT_EQ(taken.back().ToString(), "f: and 5 more errors not shown");
}

TEST(ConfigErrorsTest, NoNoteAtExactlyTheCap) {
  ConfigErrors errors("f");
  for (size_t i = 0; i < ConfigErrors::kMaxErrors; ++i) errors.At(1, 1, "", "x");
  EXPECT_EQ(errors.count(), ConfigErrors::kMaxErrors);
  std::vector<ConfigError> taken = errors.Take();
  ASSERT_EQ(taken.size(), ConfigErrors::kMaxErrors);
  EXPECT_EQ(taken.back().ToString(), "f:1:1: x");
}

TEST(ConfigErrorsTest, OneOverTheCapIsCountedInTheNote) {
  ConfigErrors errors("f");
  for (size_t i = 0; i <= ConfigErrors::kMaxErrors; ++i) errors.At(1, 1, "", "x");
  EXPECT_EQ(errors.count(), ConfigErrors::kMaxErrors + 1);
  std::vector<ConfigError> taken = errors.Take();
  ASSERT_EQ(taken.size(), ConfigErrors::kMaxErrors + 1);
  EXPECT_EQ(taken.back().ToString(), "f: and 1 more error not shown");
  EXPECT_EQ(taken.back().where.line, 0);
  EXPECT_EQ(taken.back().key, "");
}

TEST(ConfigErrorsTest, TheFirstErrorsAreKeptAndTheNoteComesLast) {
  ConfigErrors errors("f");
  // The kept errors are the first collected, wherever they are; the dropped ones, though
  // earlier in the file, are only counted; the note follows the sorted errors.
  for (size_t i = 0; i < ConfigErrors::kMaxErrors; ++i) {
    errors.At(static_cast<int>(100 + i), 1, "", "kept");
  }
  for (int line = 1; line <= 7; ++line) errors.At(line, 1, "", "dropped");
  EXPECT_EQ(errors.count(), ConfigErrors::kMaxErrors + 7);
  std::vector<ConfigError> taken = errors.Take();
  ASSERT_EQ(taken.size(), ConfigErrors::kMaxErrors + 1);
  for (size_t i = 0; i < ConfigErrors::kMaxErrors; ++i) {
    EXPECT_EQ(taken[i].message, "kept");
    EXPECT_EQ(taken[i].where.line, static_cast<int>(100 + i));
  }
  EXPECT_EQ(taken.back().ToString(), "f: and 7 more errors not shown");
}

TEST(ConfigErrorsTest, TakingStartsTheCountAgain) {
  ConfigErrors errors("f");
  for (size_t i = 0; i < ConfigErrors::kMaxErrors + 3; ++i) errors.At(1, 1, "", "x");
  ASSERT_EQ(errors.Take().size(), ConfigErrors::kMaxErrors + 1);
  EXPECT_EQ(errors.count(), 0u);
  errors.At(2, 2, "k", "again");
  EXPECT_EQ(errors.count(), 1u);
  std::vector<ConfigError> taken = errors.Take();
  ASSERT_EQ(taken.size(), 1u) << "no note for what an earlier Take dropped";
  EXPECT_EQ(taken[0].ToString(), "f:2:2: k: again");
}

}  // namespace
}  // namespace connwatch
