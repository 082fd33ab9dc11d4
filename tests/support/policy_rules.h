// Rule literals and small judgements for the evaluator's tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/evaluator.h"
#include "support/test_sockets.h"

namespace connwatch::testing {

inline constexpr auto kListen = SocketState::kListen;
inline constexpr auto kEstablished = SocketState::kEstablished;
inline constexpr auto kInbound = Direction::kInbound;
inline constexpr auto kOutbound = Direction::kOutbound;

inline PortRange Port(uint16_t port) { return {port, port}; }

inline IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

// Rule literals (designated initializers trip -Wmissing-field-initializers on GCC 12).
inline ListenerRule Listen(std::string process, PortRange ports = {},
                           ProtocolMatch protocol = ProtocolMatch::kAny) {
  ListenerRule rule;
  rule.process = std::move(process);
  rule.ports = ports;
  rule.protocol = protocol;
  return rule;
}

inline ListenerRule Bind(BindScope scope, const char* address = nullptr) {
  ListenerRule rule;
  rule.bind.scope = scope;
  if (address) rule.bind.address = Ip(address);
  return rule;
}

inline ExpectedService Service(std::string name, uint16_t port, ProtocolMatch protocol,
                               std::string process = "") {
  ExpectedService service;
  service.name = std::move(name);
  service.port = port;
  service.protocol = protocol;
  service.process = std::move(process);
  return service;
}

inline NetworkProcessRule Allow(std::string process) {
  NetworkProcessRule rule;
  rule.process = std::move(process);
  return rule;
}

inline PathRule Path(std::string process, Direction direction = Direction::kNone,
                     std::string remote_zone = "", PortRange ports = {},
                     ProtocolMatch protocol = ProtocolMatch::kAny) {
  PathRule rule;
  rule.process = std::move(process);
  rule.direction = direction;
  rule.remote_zone = std::move(remote_zone);
  rule.ports = ports;
  rule.protocol = protocol;
  return rule;
}

// "check socket pid" per finding, in order: readable when an ordering assertion fails.
inline std::vector<std::string> Keys(const Evaluation& evaluation) {
  std::vector<std::string> keys;
  for (const Finding& finding : evaluation.findings) {
    keys.push_back(std::string(CheckName(finding.check)) + " " +
                   (finding.socket ? std::to_string(*finding.socket) : "-") + " " +
                   std::to_string(finding.pid));
  }
  return keys;
}

inline bool Active(const Evaluation& evaluation, Check check) {
  return evaluation.active[static_cast<int>(check)];
}

// Whether `rule` allows a single listening `socket` owned by `owner` ("" for unowned).
inline bool ListenerAllowed(const ListenerRule& rule, const Socket& socket,
                            const std::string& owner) {
  SnapshotBuilder builder;
  builder.Add(socket);
  if (!owner.empty()) builder.Own(socket.inode, 100, owner);
  const Snapshot& snapshot = builder.Build();
  EXPECT_EQ(snapshot.classes[0].role, SocketRole::kListener) << "test socket is no listener";
  Policy policy;
  policy.listeners = {rule};
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(evaluation.listener_expected[0] == 1, evaluation.findings.empty());
  return evaluation.listener_expected[0] == 1;
}

inline Socket Listener(const char* address, uint16_t port, uint64_t inode = 7) {
  return Tcp(kListen, address, port,
             ParseIpAddress(address)->family == Family::kIpv4 ? "0.0.0.0" : "::", 0, inode);
}

}  // namespace connwatch::testing
