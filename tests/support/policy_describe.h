// Policies as short readable lines, for comparing what the baseline learns and loads:
// "tcp/22 any sshd", "tcp-443-nginx tcp/443 nginx", "tcp inbound external 443 nginx".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "classify.h"
#include "net/ip_address.h"
#include "policy/policy.h"

namespace connwatch::testing {

inline const char* Protocol(ProtocolMatch protocol) {
  return protocol == ProtocolMatch::kTcp ? "tcp" : protocol == ProtocolMatch::kUdp ? "udp" : "any";
}

inline std::string Ports(const PortRange& ports) {
  return ports.low == ports.high ? std::to_string(ports.low)
                                 : std::to_string(ports.low) + "-" + std::to_string(ports.high);
}

// "tcp/22 any sshd"; the process is left out when empty; " @/usr/sbin/sshd" when an exe is
// given (so in every Describe).
inline std::string Describe(const ListenerRule& rule) {
  std::string bind;
  switch (rule.bind.scope) {
    case BindScope::kUnspecified:
      bind = "unspecified";
      break;
    case BindScope::kWildcard:
      bind = "any";
      break;
    case BindScope::kLoopback:
      bind = "loopback";
      break;
    case BindScope::kAddress:
      bind = FormatIpAddress(rule.bind.address);
      break;
  }
  std::string text = std::string(Protocol(rule.protocol)) + "/" + Ports(rule.ports) + " " + bind;
  text = rule.process.empty() ? text : text + " " + rule.process;
  return rule.exe.empty() ? text : text + " @" + rule.exe;
}

// "tcp-443-nginx tcp/443 nginx"
inline std::string Describe(const ExpectedService& service) {
  std::string text =
      service.name + " " + Protocol(service.protocol) + "/" + std::to_string(service.port);
  text = service.process.empty() ? text : text + " " + service.process;
  return service.exe.empty() ? text : text + " @" + service.exe;
}

// "tcp inbound external 443 nginx"
inline std::string Describe(const PathRule& rule) {
  std::string text = std::string(Protocol(rule.protocol)) + " " + DirectionName(rule.direction) +
                     " " + rule.remote_zone + " " + Ports(rule.ports);
  text = rule.process.empty() ? text : text + " " + rule.process;
  return rule.exe.empty() ? text : text + " @" + rule.exe;
}

template <typename T>
std::vector<std::string> DescribeAll(const std::optional<std::vector<T>>& rules) {
  std::vector<std::string> out;
  if (!rules) return {"<absent>"};
  for (const T& rule : *rules) out.push_back(Describe(rule));
  return out;
}

inline std::vector<std::string> Processes(const Policy& policy) {
  std::vector<std::string> out;
  if (!policy.network_processes) return {"<absent>"};
  for (const NetworkProcessRule& rule : *policy.network_processes) {
    out.push_back(rule.exe.empty() ? rule.process : rule.process + " @" + rule.exe);
  }
  return out;
}

using Strings = std::vector<std::string>;

}  // namespace connwatch::testing
