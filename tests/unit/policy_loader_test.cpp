#include "policy/policy_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "net/cidr.h"
#include "support/policy_fixtures.h"

namespace connwatch {
namespace {

using testing::ErrorStrings;
using testing::Ip;
using testing::kExamplePolicy;
using testing::Net;
using testing::ParseFixture;
using testing::ReadFile;
const std::string kFixtures = testing::kPolicyFixtures;

TEST(PolicyLoaderTest, FullPolicyParsesToExactValues) {
  PolicyLoadResult result = ParseFixture("good/full.yaml");
  ASSERT_TRUE(result.errors.empty()) << ErrorStrings(result)[0];
  ASSERT_TRUE(result.policy.has_value());
  const Policy& policy = *result.policy;
  EXPECT_EQ(policy.source, "full.yaml");

  ASSERT_EQ(policy.zones.size(), 2u);
  EXPECT_EQ(policy.zones[0].name, "dmz");
  EXPECT_EQ(policy.zones[0].cidrs,
            (std::vector<Cidr>{Net("203.0.113.0/24"), Net("2001:db8:1::/48")}));
  EXPECT_EQ(policy.zones[1].name, "admin_vpn");
  EXPECT_EQ(policy.zones[1].cidrs, std::vector<Cidr>{Net("10.20.0.0/24")});

  ASSERT_TRUE(policy.listeners.has_value());
  const std::vector<ListenerRule>& listeners = *policy.listeners;
  ASSERT_EQ(listeners.size(), 4u);
  EXPECT_EQ(listeners[0].process, "sshd");
  EXPECT_EQ(listeners[0].ports, (PortRange{22, 22}));
  EXPECT_EQ(listeners[0].protocol, ProtocolMatch::kTcp);
  EXPECT_EQ(listeners[0].bind.scope, BindScope::kWildcard);
  EXPECT_EQ(listeners[0].where.file, "full.yaml");
  EXPECT_EQ(listeners[0].where.line, 9);
  EXPECT_EQ(listeners[0].where.column, 5);
  EXPECT_EQ(listeners[1].process, "node*");
  EXPECT_EQ(listeners[1].ports, (PortRange{8000, 8100}));
  EXPECT_EQ(listeners[1].protocol, ProtocolMatch::kUdp);
  EXPECT_EQ(listeners[1].bind.scope, BindScope::kLoopback);
  EXPECT_EQ(listeners[2].process, "");
  EXPECT_TRUE(listeners[2].ports.IsAny());
  EXPECT_EQ(listeners[2].protocol, ProtocolMatch::kAny);
  EXPECT_EQ(listeners[2].bind.scope, BindScope::kAddress);
  EXPECT_EQ(listeners[2].bind.address, Ip("::1"));
  EXPECT_EQ(listeners[3].process, "caf\xe9");  // !!binary
  EXPECT_EQ(listeners[3].ports, (PortRange{65535, 65535}));
  EXPECT_EQ(listeners[3].bind.scope, BindScope::kAddress);
  EXPECT_EQ(listeners[3].bind.address, Ip("10.20.0.5"));
  EXPECT_EQ(listeners[3].where.line, 18);

  ASSERT_TRUE(policy.expected_services.has_value());
  const std::vector<ExpectedService>& services = *policy.expected_services;
  ASSERT_EQ(services.size(), 3u);
  EXPECT_EQ(services[0].name, "https");
  EXPECT_EQ(services[0].port, 443);
  EXPECT_EQ(services[0].protocol, ProtocolMatch::kTcp);
  EXPECT_EQ(services[0].process, "nginx");
  EXPECT_EQ(services[1].name, "dns");
  EXPECT_EQ(services[1].port, 53);
  EXPECT_EQ(services[1].protocol, ProtocolMatch::kUdp);
  EXPECT_EQ(services[1].process, "");
  EXPECT_EQ(services[2].name, "ssh");
  EXPECT_EQ(services[2].protocol, ProtocolMatch::kTcp);  // the default
  EXPECT_EQ(services[2].where.line, 29);

  ASSERT_TRUE(policy.network_processes.has_value());
  ASSERT_EQ(policy.network_processes->size(), 2u);
  EXPECT_EQ((*policy.network_processes)[0].process, "sshd");
  EXPECT_EQ((*policy.network_processes)[1].process, "systemd-*");
  EXPECT_EQ((*policy.network_processes)[1].where.line, 33);
  EXPECT_EQ((*policy.network_processes)[1].where.column, 5);

  ASSERT_TRUE(policy.paths.has_value());
  const std::vector<PathRule>& paths = *policy.paths;
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[0].process, "nginx");
  EXPECT_EQ(paths[0].direction, Direction::kInbound);
  EXPECT_EQ(paths[0].remote_zone, "external");
  EXPECT_EQ(paths[0].ports, (PortRange{443, 443}));
  EXPECT_EQ(paths[0].protocol, ProtocolMatch::kTcp);
  EXPECT_EQ(paths[1].process, "systemd-resolve*");
  EXPECT_EQ(paths[1].direction, Direction::kOutbound);
  EXPECT_EQ(paths[1].remote_zone, "dmz");
  EXPECT_EQ(paths[1].ports, (PortRange{53, 53}));
  EXPECT_EQ(paths[1].protocol, ProtocolMatch::kUdp);
  EXPECT_EQ(paths[2].process, "");  // {}: matches every connection
  EXPECT_EQ(paths[2].direction, Direction::kNone);
  EXPECT_EQ(paths[2].remote_zone, "");
  EXPECT_TRUE(paths[2].ports.IsAny());
  EXPECT_EQ(paths[2].protocol, ProtocolMatch::kAny);

  EXPECT_EQ(policy.limits.long_connection, std::chrono::minutes(90));
  EXPECT_EQ(policy.limits.udp_server_after, 5u);
  EXPECT_EQ(policy.baseline.learn_for, std::chrono::hours(48));
}

TEST(PolicyLoaderTest, ExamplePolicyParsesCleanly) {
  PolicyLoadResult result = LoadPolicyFile(kExamplePolicy);
  ASSERT_TRUE(result.errors.empty()) << ErrorStrings(result)[0];
  ASSERT_TRUE(result.policy.has_value());
  const Policy& policy = *result.policy;
  EXPECT_EQ(policy.source, kExamplePolicy);
  EXPECT_FALSE(policy.zones.empty());
  EXPECT_TRUE(policy.listeners && !policy.listeners->empty());
  EXPECT_TRUE(policy.expected_services && !policy.expected_services->empty());
  EXPECT_TRUE(policy.network_processes && !policy.network_processes->empty());
  EXPECT_TRUE(policy.paths && !policy.paths->empty());
}

TEST(PolicyLoaderTest, ExamplePolicyDocumentsEveryKey) {
  std::string text = ReadFile(kExamplePolicy);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  // Each key appears in a comment (its documentation) and as a key (its example).
  for (const char* key : {"zones",
                          "name",
                          "cidrs",
                          "listeners",
                          "process",
                          "exe",
                          "port",
                          "ports",
                          "protocol",
                          "bind",
                          "expected_services",
                          "network_processes",
                          "paths",
                          "direction",
                          "remote_zone",
                          "limits",
                          "long_connection",
                          "udp_server_after",
                          "finding_hold",
                          "baseline",
                          "learn_for"}) {
    bool documented = false;
    bool used = false;
    for (const std::string& line : lines) {
      size_t hash = line.find('#');
      size_t at = line.find(key);
      if (at == std::string::npos) continue;
      if (hash != std::string::npos && hash < at) documented = true;
      std::string trimmed = line.substr(line.find_first_not_of(" -"));
      if (trimmed.starts_with(std::string(key) + ":")) used = true;
    }
    EXPECT_TRUE(documented) << key << " has no comment";
    EXPECT_TRUE(used) << key << " has no example";
  }
  // The values of the enumerated keys are documented too.
  for (const char* value : {"tcp | udp", "inbound", "outbound", "loopback", "any"}) {
    EXPECT_NE(text.find(value), std::string::npos) << value;
  }
}

// One small file per mistake, and exactly what the loader must say about it.
const std::map<std::string, std::vector<std::string>> kBadPolicies = {
    {"alias.yaml",
     {"alias.yaml:3:5: listeners[1]: alias *ssh not allowed: policy files may not use YAML "
      "aliases"}},
    {"binary_bad_base64.yaml",
     {"binary_bad_base64.yaml:2:5: network_processes[0]: invalid base64 in !!binary value \"not "
      "base64!\""}},
    // Bytes >= 0x80 in a !!binary value crashed yaml-cpp's own decoder (found by fuzzing).
    {"binary_high_bytes.yaml",
     {"binary_high_bytes.yaml:2:5: network_processes[0]: invalid base64 in !!binary value "
      "\"Y2\\xc3\\xa9\""}},
    {"bind_unknown.yaml",
     {"bind_unknown.yaml:3:11: listeners[0].bind: bind must be any, loopback or an IP address, "
      "got \"everywhere\""}},
    {"cidr_garbage.yaml",
     {"cidr_garbage.yaml:3:13: zones[0].cidrs[0]: invalid CIDR \"corp.example.com\"; expected "
      "an address/prefix like 10.0.0.0/8"}},
    {"cidr_host_bits.yaml",
     {"cidr_host_bits.yaml:3:13: zones[0].cidrs[0]: invalid CIDR \"10.0.0.1/8\": host bits are "
      "set (the network is 10.0.0.0/8)"}},
    {"cidr_ipv6_host_bits.yaml",
     {"cidr_ipv6_host_bits.yaml:3:13: zones[0].cidrs[0]: invalid CIDR \"2001:db8::1/32\": host "
      "bits are set (the network is 2001:db8::/32)"}},
    {"cidr_prefix_too_long.yaml",
     {"cidr_prefix_too_long.yaml:4:9: zones[0].cidrs[0]: invalid CIDR \"10.0.0.0/33\"; expected "
      "an address/prefix like 10.0.0.0/8"}},
    {"control_character.yaml",
     {"control_character.yaml:2:7: control character 0x04 is not allowed in a policy file"}},
    {"direction_unknown.yaml",
     {"direction_unknown.yaml:3:16: paths[0].direction: direction must be inbound or outbound, "
      "got \"sideways\""}},
    {"duplicate_baseline_key.yaml",
     {"duplicate_baseline_key.yaml:3:3: baseline.learn_for: duplicate key; first given at line "
      "2, column 3"}},
    {"duplicate_flow_key.yaml",
     {"duplicate_flow_key.yaml:2:33: paths[0].process: duplicate key; first given at line 2, "
      "column 6"}},
    {"duplicate_listener_key.yaml",
     {"duplicate_listener_key.yaml:4:5: listeners[0].port: duplicate key; first given at line 3, "
      "column 5"}},
    {"duplicate_top_key.yaml",
     {"duplicate_top_key.yaml:3:1: listeners: duplicate key; first given at line 1, column 1"}},
    {"duplicate_zone_key.yaml",
     {"duplicate_zone_key.yaml:4:5: zones[0].name: duplicate key; first given at line 2, column "
      "5"}},
    {"duration_invalid.yaml",
     {"duration_invalid.yaml:2:20: limits.long_connection: invalid duration \"1 hour\"; use e.g. "
      "90s, 30m, 1h, 1h30m, 7d"}},
    {"duration_negative.yaml",
     {"duration_negative.yaml:2:14: baseline.learn_for: duration must not be negative, got "
      "\"-5m\""}},
    {"duration_no_unit.yaml",
     {"duration_no_unit.yaml:2:20: limits.long_connection: duration needs a unit (ms, s, m, h, "
      "d), e.g. 3600s, got 3600"}},
    {"duration_subsecond.yaml",
     {"duration_subsecond.yaml:2:14: baseline.learn_for: duration must be whole seconds, got "
      "\"1500ms\""}},
    {"duration_zero_limit.yaml",
     {"duration_zero_limit.yaml:2:20: limits.long_connection: duration must be greater than 0"}},
    {"exe_directory.yaml",
     {"exe_directory.yaml:2:27: network_processes[0].exe: exe names a directory, not a binary: "
      "\"/usr/sbin/\""}},
    {"exe_dot_dot.yaml",
     {"exe_dot_dot.yaml:4:10: expected_services[0].exe: exe is matched against the resolved "
      "path, which has no . or .. parts, got \"/usr/bin/../sbin/nginx\""}},
    {"exe_empty.yaml",
     {"exe_empty.yaml:3:10: paths[0].exe: exe must not be empty (leave the key out to allow any "
      "path)"}},
    {"exe_list.yaml", {"exe_list.yaml:3:10: listeners[0].exe: expected a string, got a list"}},
    {"exe_relative.yaml",
     {"exe_relative.yaml:3:10: listeners[0].exe: exe must be an absolute path or glob (starting "
      "with /), got \"nginx\""}},
    {"invalid_utf8.yaml",
     {"invalid_utf8.yaml:3:8: not valid UTF-8 (byte 0xe9); policy files are UTF-8"}},
    {"limits_not_mapping.yaml",
     {"limits_not_mapping.yaml:1:9: limits: expected a mapping, got \"1h\""}},
    {"listener_scalar_item.yaml",
     {"listener_scalar_item.yaml:1:13: listeners[0]: expected a mapping, got \"22\""}},
    {"listeners_mapping.yaml",
     {"listeners_mapping.yaml:2:3: listeners: expected a list, got a mapping"}},
    {"listeners_null.yaml",
     {"listeners_null.yaml:1:1: listeners: expected a list, got null (write [] for an empty "
      "list)"}},
    {"merge_key.yaml",
     {"merge_key.yaml:4:3: baseline.<<: unknown key; expected one of: learn_for",
      "merge_key.yaml:4:7: baseline.<<: alias *l not allowed: policy files may not use YAML "
      "aliases"}},
    {"network_process_empty.yaml",
     {"network_process_empty.yaml:3:5: network_processes[1]: process name must not be empty "
      "(\"*\" allows every process)"}},
    {"network_process_mapping.yaml",
     {"network_process_mapping.yaml:2:5: network_processes[0].name: unknown key; expected one "
      "of: process, exe, namespace, workload, pod, container, netns"}},
    {"network_process_mapping_empty.yaml",
     {"network_process_mapping_empty.yaml:3:5: network_processes[1]: give process, exe or both"}},
    {"network_process_mapping_empty_name.yaml",
     {"network_process_mapping_empty_name.yaml:2:14: network_processes[0].process: process name "
      "must not be empty (\"*\" allows every process)"}},
    {"network_process_mapping_unknown_key.yaml",
     {"network_process_mapping_unknown_key.yaml:2:24: network_processes[0].path: unknown key; "
      "expected one of: process, exe, namespace, workload, pod, container, netns"}},
    {"non_string_key.yaml",
     {"non_string_key.yaml:2:7: listeners[0]: keys must be strings, got a list"}},
    {"selector_empty.yaml",
     {"selector_empty.yaml:3:16: listeners[0].namespace: namespace must not be empty (leave the "
      "key out to match any)"}},
    {"port_and_ports.yaml",
     {"port_and_ports.yaml:3:5: listeners[0].ports: give either port or ports, not both"}},
    {"port_empty.yaml",
     {"port_empty.yaml:3:5: listeners[0].port: expected an integer port, got null"}},
    {"port_float.yaml",
     {"port_float.yaml:2:11: paths[0].port: expected an integer port, got \"22.5\""}},
    {"port_leading_zero.yaml",
     {"port_leading_zero.yaml:2:11: listeners[0].port: write ports without leading zeros (YAML "
      "1.1 reads them as octal), got 022"}},
    {"port_list.yaml",
     {"port_list.yaml:2:11: listeners[0].port: expected an integer port, got a list"}},
    {"port_negative.yaml",
     {"port_negative.yaml:2:11: listeners[0].port: port must be 1-65535, got -1"}},
    {"port_not_a_number.yaml",
     {"port_not_a_number.yaml:2:11: listeners[0].port: expected an integer port, got \"ssh\""}},
    {"port_quoted.yaml",
     {"port_quoted.yaml:2:11: listeners[0].port: expected an integer port, got the string "
      "\"22\""}},
    {"port_too_big.yaml",
     {"port_too_big.yaml:3:11: expected_services[0].port: port must be 1-65535, got 70000"}},
    {"port_zero.yaml", {"port_zero.yaml:3:11: listeners[0].port: port must be 1-65535, got 0"}},
    {"ports_out_of_range.yaml",
     {"ports_out_of_range.yaml:3:12: paths[0].ports: ports must be within 1-65535, got "
      "\"60000-70000\""}},
    {"ports_reversed.yaml",
     {"ports_reversed.yaml:3:12: listeners[0].ports: port range is reversed: \"8100-8000\""}},
    {"ports_single.yaml",
     {"ports_single.yaml:2:12: listeners[0].ports: expected a port range like \"8000-8100\", got "
      "\"8000\""}},
    {"process_list.yaml",
     {"process_list.yaml:2:14: listeners[0].process: expected a string, got a list"}},
    {"protocol_unknown.yaml",
     {"protocol_unknown.yaml:3:15: listeners[0].protocol: protocol must be tcp or udp, got "
      "\"sctp\""}},
    {"protocol_uppercase.yaml",
     {"protocol_uppercase.yaml:4:15: expected_services[0].protocol: protocol must be tcp or udp, "
      "got \"UDP\""}},
    {"service_binary_name.yaml",
     {"service_binary_name.yaml:2:11: expected_services[0].name: !!binary is only allowed for "
      "process names and exe paths"}},
    {"service_duplicate_name.yaml",
     {"service_duplicate_name.yaml:4:11: expected_services[1].name: duplicate service name "
      "\"https\"; first defined at line 2"}},
    {"service_missing_name.yaml",
     {"service_missing_name.yaml:2:5: expected_services[0]: missing required key \"name\""}},
    {"service_missing_port.yaml",
     {"service_missing_port.yaml:2:5: expected_services[0]: missing required key \"port\""}},
    {"service_name_control.yaml",
     {"service_name_control.yaml:2:11: expected_services[0].name: service name must be UTF-8 "
      "without control characters, got \"web\\x0aserver\""}},
    {"syntax_bad_indent.yaml",
     {"syntax_bad_indent.yaml:3:4: YAML syntax error: end of sequence not found"}},
    {"syntax_tab_indent.yaml",
     {"syntax_tab_indent.yaml:2:2: YAML syntax error: illegal block entry"}},
    {"syntax_unclosed_flow.yaml",
     {"syntax_unclosed_flow.yaml:3:1: YAML syntax error: end of map flow not found"}},
    {"too_deep.yaml", {"too_deep.yaml:1:23: nested deeper than 16 levels; not a policy file"}},
    {"top_level_list.yaml",
     {"top_level_list.yaml:1:1: a policy is a mapping of sections, got a list"}},
    {"two_documents.yaml",
     {"two_documents.yaml:2:1: a policy file holds one YAML document; remove the second one"}},
    {"unknown_limits_key.yaml",
     {"unknown_limits_key.yaml:2:3: limits.long_connections: unknown key; expected one of: "
      "long_connection, udp_server_after, finding_hold, beacon, scan"}},
    {"udp_server_after_negative.yaml",
     {"udp_server_after_negative.yaml:3:21: limits.udp_server_after: must be a number of samples "
      "from 0 to 100000, got -1"}},
    {"udp_server_after_duration.yaml",
     {"udp_server_after_duration.yaml:2:21: limits.udp_server_after: expected a number of "
      "samples, got \"30s\""}},
    {"udp_server_after_too_large.yaml",
     {"udp_server_after_too_large.yaml:2:21: limits.udp_server_after: must be a number of "
      "samples from 0 to 100000, got 100001"}},
    {"udp_server_after_leading_zero.yaml",
     {"udp_server_after_leading_zero.yaml:2:21: limits.udp_server_after: must be a number of "
      "samples from 0 to 100000, got 03"}},
    {"unknown_listener_key.yaml",
     {"unknown_listener_key.yaml:3:5: listeners[0].prot: unknown key; expected one of: process, "
      "exe, port, ports, protocol, bind, namespace, workload, pod, container, netns"}},
    {"unknown_remote_zone.yaml",
     {"unknown_remote_zone.yaml:6:18: paths[0].remote_zone: unknown zone \"dmz2\"; known zones: "
      "dmz, loopback, link_local, multicast, internal, external"}},
    {"unknown_top_key.yaml",
     {"unknown_top_key.yaml:1:1: listners: unknown key; expected one of: zones, listeners, "
      "expected_services, network_processes, paths, limits, baseline"}},
    {"unsupported_tag.yaml",
     {"unsupported_tag.yaml:2:11: listeners[0].port: unsupported YAML tag \"!port\""}},
    {"zone_builtin_name.yaml",
     {"zone_builtin_name.yaml:2:11: zones[0].name: \"internal\" is a built-in zone; choose "
      "another name"}},
    {"zone_duplicate_name.yaml",
     {"zone_duplicate_name.yaml:4:11: zones[1].name: duplicate zone name \"dmz\"; first defined "
      "at line 2"}},
    {"zone_empty_cidrs.yaml",
     {"zone_empty_cidrs.yaml:3:12: zones[0].cidrs: a zone needs at least one CIDR"}},
    {"zone_invalid_name.yaml",
     {"zone_invalid_name.yaml:2:11: zones[0].name: zone names must match [a-z][a-z0-9_]*, got "
      "\"DMZ-1\""}},
    {"zone_missing_cidrs.yaml",
     {"zone_missing_cidrs.yaml:2:5: zones[0]: missing required key \"cidrs\""}},
    {"zones_not_list.yaml", {"zones_not_list.yaml:2:3: zones: expected a list, got a mapping"}},
};

TEST(PolicyLoaderTest, MalformedPoliciesReportFileLineColumnKeyAndMessage) {
  for (const auto& [file, expected] : kBadPolicies) {
    PolicyLoadResult result = ParseFixture("bad/" + file);
    EXPECT_FALSE(result.policy.has_value()) << file;
    EXPECT_EQ(ErrorStrings(result), expected) << file;
  }
}

TEST(PolicyLoaderTest, EveryMalformedFixtureIsInTheTable) {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kFixtures + "/bad")) {
    on_disk.insert(entry.path().filename());
  }
  std::set<std::string> in_table;
  for (const auto& [file, unused] : kBadPolicies) in_table.insert(file);
  EXPECT_EQ(on_disk, in_table);
  EXPECT_GE(on_disk.size(), 40u);
}

TEST(PolicyLoaderTest, AllErrorsAreReportedInFileOrder) {
  PolicyLoadResult result = ParseFixture("multiple_errors.yaml");
  EXPECT_FALSE(result.policy.has_value());
  std::vector<std::string> expected = {
      "multiple_errors.yaml:3:11: zones[0].name: zone names must match [a-z][a-z0-9_]*, got "
      "\"Office\"",
      "multiple_errors.yaml:4:13: zones[0].cidrs[0]: invalid CIDR \"192.168.1.1/24\": host bits "
      "are set (the network is 192.168.1.0/24)",
      "multiple_errors.yaml:7:11: listeners[0].port: port must be 1-65535, got 99999",
      "multiple_errors.yaml:9:5: listeners[0].protcol: unknown key; expected one of: process, "
      "exe, port, ports, protocol, bind, namespace, workload, pod, container, netns",
      "multiple_errors.yaml:11:5: listeners[1].ports: give either port or ports, not both",
      "multiple_errors.yaml:13:5: expected_services[0]: missing required key \"name\"",
      "multiple_errors.yaml:15:18: paths[0].remote_zone: unknown zone \"office\"; known zones: "
      "Office, loopback, link_local, multicast, internal, external",
      "multiple_errors.yaml:16:16: paths[0].direction: direction must be inbound or outbound, got "
      "\"in\"",
      "multiple_errors.yaml:18:20: limits.long_connection: invalid duration \"forever\"; use e.g. "
      "90s, 30m, 1h, 1h30m, 7d",
      "multiple_errors.yaml:21:3: baseline.learn_for: duplicate key; first given at line 20, "
      "column 3",
  };
  EXPECT_EQ(ErrorStrings(result), expected);
}

TEST(PolicyLoaderTest, DuplicateKeysAtEveryDepth) {
  const char* text =
      "zones:\n"                                   // 1
      "  - name: dmz\n"                            // 2
      "    cidrs: [203.0.113.0/24]\n"              // 3
      "    cidrs: [198.51.100.0/24]\n"             // 4: in a list item
      "listeners:\n"                               // 5
      "  - {process: sshd, port: 22, port: 23}\n"  // 6: in a flow mapping
      "limits:\n"                                  // 7
      "  long_connection: 1h\n"                    // 8
      "  long_connection: 2h\n"                    // 9: in a section
      "zones: []\n";                               // 10: at the top
  PolicyLoadResult result = ParsePolicy(text, "dups.yaml");
  std::vector<std::string> expected = {
      "dups.yaml:4:5: zones[0].cidrs: duplicate key; first given at line 3, column 5",
      "dups.yaml:6:31: listeners[0].port: duplicate key; first given at line 6, column 21",
      "dups.yaml:9:3: limits.long_connection: duplicate key; first given at line 8, column 3",
      "dups.yaml:10:1: zones: duplicate key; first given at line 1, column 1",
  };
  EXPECT_EQ(ErrorStrings(result), expected);
  EXPECT_FALSE(result.policy.has_value());
}

TEST(PolicyLoaderTest, QuotedAndPlainKeysAreTheSameKey) {
  PolicyLoadResult result =
      ParsePolicy("limits:\n  long_connection: 1h\n  \"long_connection\": 2h\n", "p.yaml");
  EXPECT_EQ(ErrorStrings(result),
            std::vector<std::string>{"p.yaml:3:3: limits.long_connection: duplicate key; first "
                                     "given at line 2, column 3"});
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/policy_loader_test.XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(PolicyLoaderTest, FilesOverTheLimitAreRefusedBeforeParsing) {
  TempDir dir;
  // Valid YAML all the way (one long comment), so only the size can be the problem.
  std::string big = "# " + std::string(kMaxPolicyFileBytes - 2, 'x') + "\n";
  std::string path = dir.Write("big.yaml", big);
  PolicyLoadResult result = LoadPolicyFile(path);
  EXPECT_FALSE(result.policy.has_value());
  EXPECT_EQ(
      ErrorStrings(result),
      std::vector<std::string>{path + ": file is larger than the limit of 1048576 bytes; refusing "
                                      "to parse it"});

  result = ParsePolicy(big, "big.yaml");
  EXPECT_EQ(ErrorStrings(result),
            std::vector<std::string>{"big.yaml: file is 1048577 bytes, more than the limit of "
                                     "1048576; refusing to parse it"});

  // Exactly at the limit is fine.
  big.resize(kMaxPolicyFileBytes - 1);
  result = LoadPolicyFile(dir.Write("limit.yaml", big + "\n"));
  EXPECT_TRUE(result.errors.empty());
  EXPECT_TRUE(result.policy.has_value());
}

TEST(PolicyLoaderTest, UnreadableFilesAreErrorsNamingTheFile) {
  TempDir dir;
  std::string missing = dir.path() + "/missing.yaml";
  EXPECT_EQ(ErrorStrings(LoadPolicyFile(missing)),
            std::vector<std::string>{missing + ": cannot read: No such file or directory"});
  EXPECT_EQ(ErrorStrings(LoadPolicyFile(dir.path())),
            std::vector<std::string>{dir.path() + ": cannot read: Is a directory"});
}

TEST(PolicyLoaderTest, LoadedFilesNameThemselvesInLocations) {
  TempDir dir;
  std::string path = dir.Write("p.yaml", "network_processes:\n  - sshd\n");
  PolicyLoadResult result = LoadPolicyFile(path);
  ASSERT_TRUE(result.policy.has_value());
  EXPECT_EQ(result.policy->source, path);
  EXPECT_EQ((*result.policy->network_processes)[0].where.file, path);
  EXPECT_EQ((*result.policy->network_processes)[0].where.line, 2);
}

TEST(PolicyLoaderTest, EmptyFileIsTheEmptyPolicy) {
  // No sections: no check is active. No baseline section: no learning. An empty file is a
  // deliberate "watch, judge nothing", unlike running without --config.file.
  for (const char* text : {"", "\n", "# nothing yet\n", "~\n", "---\n", "--- # empty\n...\n"}) {
    PolicyLoadResult result = ParsePolicy(text, "empty.yaml");
    ASSERT_TRUE(result.errors.empty()) << text << ": " << ErrorStrings(result)[0];
    ASSERT_TRUE(result.policy.has_value());
    const Policy& policy = *result.policy;
    EXPECT_EQ(policy.source, "empty.yaml");
    EXPECT_TRUE(policy.zones.empty());
    EXPECT_FALSE(policy.listeners.has_value());
    EXPECT_FALSE(policy.expected_services.has_value());
    EXPECT_FALSE(policy.network_processes.has_value());
    EXPECT_FALSE(policy.paths.has_value());
    EXPECT_EQ(policy.limits.long_connection, std::chrono::hours(1));
    EXPECT_EQ(policy.baseline.learn_for, std::chrono::seconds(0));
  }
}

TEST(PolicyLoaderTest, EmptySectionsArePresentAndAllowNothing) {
  PolicyLoadResult result = ParsePolicy(
      "zones: []\nlisteners: []\nexpected_services: []\nnetwork_processes: []\npaths: []\n"
      "limits: {}\nbaseline: {}\n",
      "p.yaml");
  ASSERT_TRUE(result.policy.has_value()) << ErrorStrings(result)[0];
  EXPECT_TRUE(result.policy->zones.empty());
  EXPECT_TRUE(result.policy->listeners && result.policy->listeners->empty());
  EXPECT_TRUE(result.policy->expected_services && result.policy->expected_services->empty());
  EXPECT_TRUE(result.policy->network_processes && result.policy->network_processes->empty());
  EXPECT_TRUE(result.policy->paths && result.policy->paths->empty());
  EXPECT_EQ(result.policy->limits.long_connection, std::chrono::hours(1));
  EXPECT_EQ(result.policy->baseline.learn_for, std::chrono::seconds(0));
}

TEST(PolicyLoaderTest, DurationSyntax) {
  struct Case {
    const char* text;
    std::chrono::seconds learn_for;
  };
  for (const Case& c : std::vector<Case>{{"0", std::chrono::seconds(0)},
                                         {"0s", std::chrono::seconds(0)},
                                         {"\"0\"", std::chrono::seconds(0)},
                                         {"90s", std::chrono::seconds(90)},
                                         {"30m", std::chrono::minutes(30)},
                                         {"1h30m", std::chrono::minutes(90)},
                                         {"2000ms", std::chrono::seconds(2)},
                                         {"\"1d\"", std::chrono::hours(24)}}) {
    PolicyLoadResult result =
        ParsePolicy(std::string("baseline:\n  learn_for: ") + c.text + "\n", "d.yaml");
    ASSERT_TRUE(result.policy.has_value()) << c.text << ": " << ErrorStrings(result)[0];
    EXPECT_EQ(result.policy->baseline.learn_for, c.learn_for) << c.text;
  }
}

TEST(PolicyLoaderTest, ScalarsOfAnyStyleAreStrings) {
  PolicyLoadResult result = ParsePolicy(
      "network_processes:\n"
      "  - 1234\n"                 // a process named by digits
      "  - 'single ''quoted'''\n"  // YAML single quotes
      "  - \"tab\\tname\"\n"       // escapes
      "  - !!str true\n"           // an explicit string tag
      "  - |\n"
      "    literal\n",
      "p.yaml");
  ASSERT_TRUE(result.policy.has_value()) << ErrorStrings(result)[0];
  std::vector<std::string> names;
  for (const NetworkProcessRule& rule : *result.policy->network_processes) {
    names.push_back(rule.process);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"1234", "single 'quoted'", "tab\tname", "true",
                                             "literal\n"}));
}

TEST(PolicyLoaderTest, ErrorToString) {
  PolicyError keyed{{"policy.yaml", 12, 5}, "listeners[2].port", "port must be 1-65535, got 0"};
  EXPECT_EQ(keyed.ToString(), "policy.yaml:12:5: listeners[2].port: port must be 1-65535, got 0");
  PolicyError unkeyed{{"policy.yaml", 3, 1}, "", "YAML syntax error: illegal map value"};
  EXPECT_EQ(unkeyed.ToString(), "policy.yaml:3:1: YAML syntax error: illegal map value");
  PolicyError whole_file{{"policy.yaml", 0, 0}, "", "cannot read: Permission denied"};
  EXPECT_EQ(whole_file.ToString(), "policy.yaml: cannot read: Permission denied");
}

}  // namespace
}  // namespace connwatch
