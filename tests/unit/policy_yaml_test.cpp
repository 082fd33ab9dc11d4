// PolicyToYaml: what it writes reads back to the same policy, and reads well.
#include "policy/policy_yaml.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "policy/policy_loader.h"
#include "support/policy_fixtures.h"

namespace connwatch {
namespace {

using testing::ErrorStrings;
using testing::Ip;
using testing::kExamplePolicy;
using testing::Net;
using testing::ParseFixture;
using testing::ReadFile;

std::string Hex(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    char buffer[4];
    snprintf(buffer, sizeof(buffer), "%02x", c);
    out += buffer;
  }
  return out;
}

const char* ProtocolText(ProtocolMatch protocol) {
  return protocol == ProtocolMatch::kTcp ? "tcp" : protocol == ProtocolMatch::kUdp ? "udp" : "any";
}

std::string PortsText(const PortRange& ports) {
  return std::to_string(ports.low) + "-" + std::to_string(ports.high);
}

// Every field of a policy but its source and locations, names as hex: what "equal" means
// for round trips. Written independently of PolicyToYaml.
std::string Dump(const Policy& policy) {
  std::ostringstream out;
  for (const Zone& zone : policy.zones) {
    out << "zone " << zone.name;
    for (const Cidr& cidr : zone.cidrs) out << " " << FormatCidr(cidr);
    out << "\n";
  }
  if (policy.listeners) {
    out << "listeners " << policy.listeners->size() << "\n";
    for (const ListenerRule& rule : *policy.listeners) {
      out << "  " << Hex(rule.process) << " " << PortsText(rule.ports) << " "
          << ProtocolText(rule.protocol) << " bind=" << static_cast<int>(rule.bind.scope);
      if (rule.bind.scope == BindScope::kAddress) out << " " << FormatIpAddress(rule.bind.address);
      out << " exe=" << Hex(rule.exe) << "\n";
    }
  }
  if (policy.expected_services) {
    out << "services " << policy.expected_services->size() << "\n";
    for (const ExpectedService& service : *policy.expected_services) {
      out << "  " << Hex(service.name) << " " << service.port << " "
          << ProtocolText(service.protocol) << " " << Hex(service.process)
          << " exe=" << Hex(service.exe) << "\n";
    }
  }
  if (policy.network_processes) {
    out << "network_processes " << policy.network_processes->size() << "\n";
    for (const NetworkProcessRule& rule : *policy.network_processes) {
      out << "  " << Hex(rule.process) << " exe=" << Hex(rule.exe) << "\n";
    }
  }
  if (policy.paths) {
    out << "paths " << policy.paths->size() << "\n";
    for (const PathRule& rule : *policy.paths) {
      out << "  " << Hex(rule.process) << " " << static_cast<int>(rule.direction) << " "
          << rule.remote_zone << " " << PortsText(rule.ports) << " " << ProtocolText(rule.protocol)
          << " exe=" << Hex(rule.exe) << " beacon=" << rule.beacon_allowed << "\n";
    }
  }
  const BeaconLimits& beacon = policy.limits.beacon;
  out << "beacon " << beacon.window.count() << " " << beacon.min_connections << " "
      << beacon.min_score << "\n";
  out << "scan " << policy.limits.scan.targets << " " << policy.limits.scan.ports << "\n";
  out << "long_connection " << policy.limits.long_connection.count() << "\n";
  out << "udp_server_after " << policy.limits.udp_server_after << "\n";
  out << "learn_for " << policy.baseline.learn_for.count() << "\n";
  return out.str();
}

// PolicyToYaml, then ParsePolicy: the same policy must come back.
void ExpectRoundTrip(const Policy& policy) {
  std::string yaml = PolicyToYaml(policy);
  PolicyLoadResult result = ParsePolicy(yaml, "roundtrip.yaml");
  ASSERT_TRUE(result.errors.empty()) << ErrorStrings(result)[0] << "\n" << yaml;
  ASSERT_TRUE(result.policy.has_value());
  EXPECT_EQ(Dump(*result.policy), Dump(policy)) << yaml;
  // Printing it again gives the same text.
  EXPECT_EQ(PolicyToYaml(*result.policy), yaml);
}

TEST(PolicyYamlTest, FullPolicyRoundTrips) {
  PolicyLoadResult result = ParseFixture("good/full.yaml");
  ASSERT_TRUE(result.policy.has_value());
  ExpectRoundTrip(*result.policy);
}

TEST(PolicyYamlTest, ExeRulesRoundTrip) {
  PolicyLoadResult result = ParseFixture("good/identity.yaml");
  ASSERT_TRUE(result.policy.has_value());
  ExpectRoundTrip(*result.policy);
  // A network process with an exe is written as a mapping, one without as a plain name.
  std::string yaml = PolicyToYaml(*result.policy);
  EXPECT_NE(yaml.find("network_processes:\n"
                      "  - redis-server\n"
                      "  - process: python3\n"
                      "    exe: \"/usr/bin/python3.11\"\n"
                      "  - exe: \"/usr/lib/jvm/*/bin/java\"\n"
                      "  - process: !!binary \"Y2Fm6Q==\"  # \"caf\\xe9\" (not UTF-8)\n"
                      "    exe: !!binary \"L29wdC9jYWbp\"  # \"/opt/caf\\xe9\" (not UTF-8)\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("  - process: redis-server\n"
                      "    exe: \"/usr/bin/redis-check-rdb\"\n"
                      "    port: 6379\n"),
            std::string::npos)
      << yaml;
}

TEST(PolicyYamlTest, ExamplePolicyRoundTrips) {
  PolicyLoadResult result = LoadPolicyFile(kExamplePolicy);
  ASSERT_TRUE(result.policy.has_value());
  ExpectRoundTrip(*result.policy);
}

TEST(PolicyYamlTest, DefaultAndEmptyPoliciesRoundTrip) {
  ExpectRoundTrip(DefaultPolicy());
  Policy empty;
  ExpectRoundTrip(empty);
  empty.listeners.emplace();
  empty.expected_services.emplace();
  empty.network_processes.emplace();
  empty.paths.emplace();
  ExpectRoundTrip(empty);
}

// What a learned baseline can hold: process names are whatever bytes a process chose.
const std::vector<std::string> kOddNames = {
    "sshd",
    "systemd-*",
    "*",
    "php-fpm[0-9]*",
    "x\\*",
    "foo:bar",
    "foo: bar",
    "-dash",
    "- dash",
    "#hash",
    "a #comment",
    "quote\"d",
    "it's",
    "back\\slash",
    "tab\tname",
    "new\nline",
    "cr\rname",
    "bell\x07",
    "del\x7f",
    " leading space",
    "trailing space ",
    "null",
    "~",
    "true",
    "No",
    "1234",
    "0x1F",
    "1e3",
    ".inf",
    "[bracket",
    "{brace}",
    "&anchor",
    "*alias",
    "!tag",
    "%percent",
    "@at",
    "`tick",
    "|pipe",
    ">fold",
    "?question",
    ",comma",
    "kworker/0:1-events",
    "ünïcödé",
    "日本語",
    "emoji\xf0\x9f\x98\x80",
    "c1\xc2\x85next",
    "sep\xe2\x80\xa8line",
    "bom\xef\xbb\xbf",
    "caf\xe9",
    "\xff\xfe",
    "\xc3",
    "overlong\xc0\xaf",
    "surrogate\xed\xa0\x80",
    "---",
    "...",
    std::string(200, 'z'),
};

TEST(PolicyYamlTest, OddProcessNamesRoundTrip) {
  Policy policy;
  policy.listeners.emplace();
  policy.expected_services.emplace();
  policy.network_processes.emplace();
  policy.paths.emplace();
  for (size_t i = 0; i < kOddNames.size(); ++i) {
    const std::string& name = kOddNames[i];
    ListenerRule listener;
    listener.process = name;
    listener.ports = {uint16_t(1000 + i), uint16_t(1000 + i)};
    policy.listeners->push_back(listener);
    ExpectedService service;
    service.name = "service_" + std::to_string(i);
    service.port = static_cast<uint16_t>(1000 + i);
    service.process = name;
    policy.expected_services->push_back(service);
    policy.network_processes->push_back({name, {}, "", {}});
    // The same bytes as a path, in the mapping form (a learned baseline writes those).
    policy.network_processes->push_back({i % 3 ? name : "", {}, "/opt/" + name, {}});
    listener.exe = "/x/" + name;
    policy.listeners->push_back(listener);
    PathRule path;
    path.process = name;
    path.direction = i % 2 ? Direction::kInbound : Direction::kOutbound;
    policy.paths->push_back(path);
  }
  ExpectRoundTrip(policy);
}

TEST(PolicyYamlTest, PolicyToYamlIsReadable) {
  PolicyLoadResult result = ParseFixture("good/full.yaml");
  ASSERT_TRUE(result.policy.has_value());
  // Defaults are left out, plain names stay plain, the rest is quoted.
  EXPECT_EQ(PolicyToYaml(*result.policy),
            "zones:\n"
            "  - name: dmz\n"
            "    cidrs: [\"203.0.113.0/24\", \"2001:db8:1::/48\"]\n"
            "  - name: admin_vpn\n"
            "    cidrs: [\"10.20.0.0/24\"]\n"
            "listeners:\n"
            "  - process: sshd\n"
            "    port: 22\n"
            "    protocol: tcp\n"
            "    bind: any\n"
            "  - process: \"node*\"\n"
            "    ports: \"8000-8100\"\n"
            "    protocol: udp\n"
            "    bind: loopback\n"
            "  - bind: \"::1\"\n"
            "  - process: !!binary \"Y2Fm6Q==\"  # \"caf\\xe9\" (not UTF-8)\n"
            "    port: 65535\n"
            "    bind: \"10.20.0.5\"\n"
            "expected_services:\n"
            "  - name: https\n"
            "    port: 443\n"
            "    protocol: tcp\n"
            "    process: nginx\n"
            "  - name: dns\n"
            "    port: 53\n"
            "    protocol: udp\n"
            "  - name: ssh\n"
            "    port: 22\n"
            "    protocol: tcp\n"
            "network_processes:\n"
            "  - sshd\n"
            "  - \"systemd-*\"\n"
            "paths:\n"
            "  - process: nginx\n"
            "    direction: inbound\n"
            "    remote_zone: external\n"
            "    port: 443\n"
            "    protocol: tcp\n"
            "  - process: \"systemd-resolve*\"\n"
            "    direction: outbound\n"
            "    remote_zone: dmz\n"
            "    port: 53\n"
            "    protocol: udp\n"
            "  - {}\n"
            "limits:\n"
            "  long_connection: 1h30m\n"
            "  udp_server_after: 5\n"
            "  finding_hold: 10m\n"
            "  beacon:\n"
            "    window: 1h\n"
            "    min_connections: 24\n"
            "    min_score: 0.8\n"
            "  scan:\n"
            "    targets: 50\n"
            "    ports: 20\n"
            "baseline:\n"
            "  learn_for: 2d\n");
}

TEST(PolicyYamlTest, NamesThatAreNotUtf8BecomeBinaryWithAReadableComment) {
  Policy policy;
  policy.network_processes.emplace();
  policy.network_processes->push_back({"caf\xe9", {}, "", {}});
  std::string yaml = PolicyToYaml(policy);
  EXPECT_NE(yaml.find("  - !!binary \"Y2Fm6Q==\"  # \"caf\\xe9\" (not UTF-8)\n"), std::string::npos)
      << yaml;
  PolicyLoadResult result = ParsePolicy(yaml, "b.yaml");
  ASSERT_TRUE(result.policy.has_value());
  EXPECT_EQ(Hex((*result.policy->network_processes)[0].process), Hex("caf\xe9"));
}

TEST(PolicyYamlTest, RulesRoundTrip) {
  Policy policy;
  policy.zones = {{"dmz", {Net("203.0.113.0/24"), Net("2001:db8:1::/48")}},
                  {"v6only", {Net("2001:db8::/32"), Net("::/0")}},
                  {"host", {Net("192.0.2.7/32"), Net("0.0.0.0/0")}},
                  {"null", {Net("198.51.100.0/24")}}};
  ListenerRule any;
  ListenerRule range;
  range.process = "node*";
  range.ports = {8000, 8100};
  range.protocol = ProtocolMatch::kUdp;
  range.bind.scope = BindScope::kLoopback;
  ListenerRule v6;
  v6.ports = {1, 65535};
  v6.protocol = ProtocolMatch::kTcp;
  v6.bind = {BindScope::kAddress, Ip("fe80::1")};
  ListenerRule mapped;
  mapped.bind = {BindScope::kAddress, Ip("::ffff:192.0.2.1")};
  ListenerRule v4;
  v4.bind = {BindScope::kAddress, Ip("0.0.0.0")};
  ListenerRule wildcard;
  wildcard.bind.scope = BindScope::kWildcard;
  policy.listeners = {any, range, v6, mapped, v4, wildcard};
  policy.expected_services = {{"https", 443, ProtocolMatch::kTcp, "nginx", {}, "", {}},
                              {"dns", 53, ProtocolMatch::kUdp, "", {}, "", {}},
                              {"ünïcödé service", 65535, ProtocolMatch::kTcp, "", {}, "", {}},
                              {"null", 1, ProtocolMatch::kTcp, "", {}, "", {}}};
  policy.network_processes = std::vector<NetworkProcessRule>{{"sshd", {}, "", {}}};
  PathRule inbound;
  inbound.process = "nginx";
  inbound.direction = Direction::kInbound;
  inbound.remote_zone = "external";
  inbound.ports = {443, 443};
  inbound.protocol = ProtocolMatch::kTcp;
  PathRule outbound;
  outbound.direction = Direction::kOutbound;
  outbound.remote_zone = "null";
  outbound.ports = {49152, 65535};
  outbound.protocol = ProtocolMatch::kUdp;
  PathRule periodic;
  periodic.process = "chronyd";
  periodic.ports = {123, 123};
  periodic.beacon_allowed = true;
  policy.paths = {inbound, outbound, PathRule{}, periodic};
  for (std::chrono::seconds duration :
       {std::chrono::seconds(1), std::chrono::seconds(59), std::chrono::seconds(90),
        std::chrono::seconds(3600), std::chrono::seconds(86400 + 3600 + 60 + 1),
        std::chrono::seconds(400 * 86400)}) {
    policy.limits.long_connection = duration;
    policy.baseline.learn_for = duration;
    ExpectRoundTrip(policy);
  }
  for (uint32_t samples : {0u, 1u, 3u, 100000u}) {
    policy.limits.udp_server_after = samples;
    ExpectRoundTrip(policy);
  }
  for (double score : {0.0, 0.05, 0.8, 0.95, 1.0}) {
    policy.limits.beacon = {std::chrono::seconds(120), 40, score};
    policy.limits.scan = {2, 65535};
    ExpectRoundTrip(policy);
  }
}

// How the writer spells each hostile name: the exact network_processes line, and the name
// ParsePolicy reads back from it.
TEST(PolicyYamlTest, HostileNamesAreEscapedToOneLineThatReadsBack) {
  struct Case {
    const char* name;
    std::string process;
    std::string line;
  };
  const std::vector<Case> cases = {
      {"plain", "sshd", "  - sshd"},
      {"reserved word", "null", "  - \"null\""},
      {"newline", "new\nline", "  - \"new\\nline\""},
      {"carriage return", "cr\rname", "  - \"cr\\x0dname\""},
      {"quote", "quote\"d", "  - \"quote\\\"d\""},
      {"backslash", "back\\slash", "  - \"back\\\\slash\""},
      {"NUL", std::string("a\0b", 3), "  - \"a\\x00b\""},
      {"tab", "tab\tname", "  - \"tab\\tname\""},
      {"other C0 control", "bell\x07", "  - \"bell\\x07\""},
      {"DEL", "del\x7f", "  - \"del\\x7f\""},
      {"C1 control", "c1\xc2\x85next", "  - \"c1\\u0085next\""},
      {"line separator U+2028", "sep\xe2\x80\xa8line", "  - \"sep\\u2028line\""},
      {"paragraph separator U+2029", "par\xe2\x80\xa9", "  - \"par\\u2029\""},
      {"byte order mark", "bom\xef\xbb\xbf", "  - \"bom\\ufeff\""},
      {"printable multibyte stays", "caf\xc3\xa9", "  - \"caf\xc3\xa9\""},
      {"invalid UTF-8", "caf\xe9", "  - !!binary \"Y2Fm6Q==\"  # \"caf\\xe9\" (not UTF-8)"},
      {"invalid UTF-8 only", "\xff\xfe", "  - !!binary \"//4=\"  # \"\\xff\\xfe\" (not UTF-8)"},
      {"invalid UTF-8 with a newline", "bad\xff\n",
       "  - !!binary \"YmFk/wo=\"  # \"bad\\xff\\x0a\" (not UTF-8)"},
      {"invalid UTF-8 with quote and backslash", "\"\\\xff",
       "  - !!binary \"Ilz/\"  # \"\\\"\\\\\\xff\" (not UTF-8)"},
      {"truncated sequence", "\xc3", "  - !!binary \"ww==\"  # \"\\xc3\" (not UTF-8)"},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.name);
    Policy policy;
    policy.network_processes.emplace();
    policy.network_processes->push_back({test.process, {}, "", {}});
    std::string yaml = PolicyToYaml(policy);
    std::string expected = "network_processes:\n" + test.line + "\n";
    EXPECT_EQ(yaml.substr(0, expected.size()), expected) << yaml;
    EXPECT_EQ(yaml.find("limits:\n"), expected.size()) << "the entry is one line:\n" << yaml;
    PolicyLoadResult result = ParsePolicy(yaml, "hostile.yaml");
    ASSERT_TRUE(result.errors.empty()) << ErrorStrings(result)[0] << "\n" << yaml;
    ASSERT_TRUE(result.policy.has_value());
    ASSERT_TRUE(result.policy->network_processes.has_value());
    ASSERT_EQ(result.policy->network_processes->size(), 1u);
    EXPECT_EQ(Hex((*result.policy->network_processes)[0].process), Hex(test.process));
  }
}

}  // namespace
}  // namespace connwatch
