// The /proc/net/tcp and /proc/net/udp texts of IPv4 sockets, laid out as the kernel prints
// them (tcp4_seq_show, udp4_format_sock), for fake /proc trees that the procfs source reads.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "support/fake_proc.h"

namespace connwatch::testing {

// One IPv4 socket. `state` is the kernel's number (1 established, 7 close, 10 listen).
struct ProcNetEntry {
  const char* local = "0.0.0.0";
  uint16_t local_port = 0;
  const char* remote = "0.0.0.0";
  uint16_t remote_port = 0;
  int state = 10;
  uint64_t inode = 0;
};

inline constexpr const char* kProcNetTcpHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n";
inline constexpr const char* kProcNetUdpHeader =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode ref pointer drops\n";

// The kernel prints the address's four bytes as one host-order u32 ("%08X"), the port in
// host order ("%04X").
inline std::string ProcNetAddress(const char* address, uint16_t port) {
  in_addr parsed{};
  inet_pton(AF_INET, address, &parsed);
  uint32_t raw = 0;
  std::memcpy(&raw, &parsed, sizeof(raw));
  char text[32];
  snprintf(text, sizeof(text), "%08X:%04X", raw, port);
  return text;
}

inline std::string ProcNetText(const char* header, const std::vector<ProcNetEntry>& entries) {
  std::string text = header;
  int slot = 0;
  for (const ProcNetEntry& entry : entries) {
    char line[256];
    snprintf(line, sizeof(line),
             "%4d: %s %s %02X 00000000:00000000 00:00000000 00000000     0        0 %llu 1 "
             "0000000000000000 100 0 0 10 0\n",
             slot++, ProcNetAddress(entry.local, entry.local_port).c_str(),
             ProcNetAddress(entry.remote, entry.remote_port).c_str(), entry.state,
             static_cast<unsigned long long>(entry.inode));
    text += line;
  }
  return text;
}

// net/tcp holding `tcp` and net/udp holding `udp` (tcp6 and udp6 left out: optional, as on
// a host without IPv6), plus the sysctls the classifier reads.
inline void WriteProcNet(FakeProc& proc, const std::vector<ProcNetEntry>& tcp,
                         const std::vector<ProcNetEntry>& udp = {}) {
  for (const char* dir : {"net", "sys", "sys/net", "sys/net/ipv4"}) proc.MakeDir(dir);
  proc.WriteFile("net/tcp", ProcNetText(kProcNetTcpHeader, tcp));
  proc.WriteFile("net/udp", ProcNetText(kProcNetUdpHeader, udp));
  proc.WriteFile("sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
  proc.WriteFile("sys/net/ipv4/ip_local_reserved_ports", "\n");
}

// sys/kernel/random/boot_id, as random(4) shows it.
inline void WriteBootId(FakeProc& proc, const std::string& boot_id) {
  for (const char* dir : {"sys", "sys/kernel", "sys/kernel/random"}) proc.MakeDir(dir);
  proc.WriteFile("sys/kernel/random/boot_id", boot_id + "\n");
}

}  // namespace connwatch::testing
