#include "sources/proc_net.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "base/read_file.h"

namespace connwatch {
namespace {

// Splits on runs of spaces. The kernel pads tcp lines with trailing spaces (to a fixed
// width) and right-aligns some columns, so empty fields never carry meaning.
std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    size_t start = pos;
    while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t') ++pos;
    if (pos > start) fields.push_back(line.substr(start, pos - start));
  }
  return fields;
}

// Parses the whole of `text` as a number in `base`; anything left over is an error.
template <typename T>
bool ParseNumber(std::string_view text, int base, T& value) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// "0100007F:0CEA" or the 32-digit IPv6 form. The kernel prints each 32-bit word of the
// address with %08X as the u32 it finds in memory, i.e. in host byte order, so the bytes
// of that u32 in host memory are the network-order bytes of the address: 127.0.0.1
// appears as 0100007F on little-endian hosts. The port is printed after ntohs and is a
// plain host-order number.
bool ParseEndpoint(std::string_view field, Family family, IpAddress& address, uint16_t& port) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view hex = field.substr(0, colon);
  size_t words = family == Family::kIpv4 ? 1 : 4;
  if (hex.size() != words * 8) return false;
  address = IpAddress{};
  address.family = family;
  for (size_t i = 0; i < words; ++i) {
    uint32_t word = 0;
    if (!ParseNumber(hex.substr(i * 8, 8), 16, word)) return false;
    std::memcpy(address.bytes.data() + i * 4, &word, sizeof(word));
  }
  std::string_view port_hex = field.substr(colon + 1);
  return port_hex.size() == 4 && ParseNumber(port_hex, 16, port);
}

// Kernel state numbers (include/net/tcp_states.h). /proc/net/tcp already prints request
// sockets (TCP_NEW_SYN_RECV) as 03; map 0C the same way in case a kernel ever prints it,
// so that both sources agree.
SocketState StateFromKernel(unsigned value) {
  if (value == static_cast<unsigned>(SocketState::kNewSynRecv)) return SocketState::kSynRecv;
  if (value == 0 || value > static_cast<unsigned>(kMaxSocketState)) return SocketState::kUnknown;
  return static_cast<SocketState>(value);
}

// Columns (proc(5), get_tcp4_sock(), udp4_format_sock()): sl, local_address, rem_address,
// st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode, then extras that
// differ between tcp and udp. TIME_WAIT and request-socket lines are shorter but still
// have the inode column (always 0 there).
bool ParseLine(std::string_view line, Transport transport, Family family, Socket& socket) {
  std::vector<std::string_view> fields = SplitFields(line);
  if (fields.size() < 10) return false;
  if (fields[0].size() < 2 || fields[0].back() != ':') return false;
  socket = Socket{};
  socket.transport = transport;
  socket.family = family;
  if (!ParseEndpoint(fields[1], family, socket.local, socket.local_port)) return false;
  if (!ParseEndpoint(fields[2], family, socket.remote, socket.remote_port)) return false;
  unsigned state = 0;
  if (fields[3].size() != 2 || !ParseNumber(fields[3], 16, state)) return false;
  socket.state = StateFromKernel(state);
  // For request sockets (03 with inode 0) this is the listener's uid; sock_diag reports 0
  // for them (inet_req_diag_fill()).
  if (!ParseNumber(fields[7], 10, socket.uid)) return false;
  if (!ParseNumber(fields[9], 10, socket.inode)) return false;
  return true;
}

struct ProcNetFile {
  const char* name;
  Transport transport;
  Family family;
  bool optional;  // tcp6/udp6 are absent when IPv6 is disabled
};

constexpr ProcNetFile kProcNetFiles[] = {
    {"tcp", Transport::kTcp, Family::kIpv4, false},
    {"tcp6", Transport::kTcp, Family::kIpv6, true},
    {"udp", Transport::kUdp, Family::kIpv4, false},
    {"udp6", Transport::kUdp, Family::kIpv6, true},
};

}  // namespace

void ParseProcNet(std::string_view text, Transport transport, Family family,
                  std::vector<Socket>& out, ProcNetStats& stats) {
  bool first = true;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    // seq_file always ends a record with '\n'; a last line without one was cut short (a
    // size-capped read), and its last column may be a prefix of the real inode.
    bool complete = newline != std::string_view::npos;
    std::string_view line = text.substr(0, complete ? newline : text.size());
    text.remove_prefix(complete ? newline + 1 : text.size());
    bool header = first && line.find("local_address") != std::string_view::npos;
    first = false;
    if (header || line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Socket socket;
    if (complete && ParseLine(line, transport, family, socket)) {
      out.push_back(socket);
    } else {
      ++stats.malformed_lines;
    }
  }
}

bool ReadProcNetSockets(const std::string& procfs, std::vector<Socket>& out, ProcNetStats& stats,
                        std::string& error, bool tcp) {
  std::vector<Socket> sockets;
  std::string text;
  for (const ProcNetFile& file : kProcNetFiles) {
    if (!tcp && file.transport == Transport::kTcp) continue;
    std::string path = procfs + "/net/" + file.name;
    bool truncated = false;
    int err = ReadFileCapped(path, kMaxProcNetFileBytes, text, &truncated);
    if (err == ENOENT && file.optional) continue;
    if (err != 0) {
      error = path + ": " + std::error_code(err, std::generic_category()).message();
      return false;
    }
    if (truncated) ++stats.truncated_files;
    ParseProcNet(text, file.transport, file.family, sockets, stats);
  }
  out.insert(out.end(), sockets.begin(), sockets.end());
  return true;
}

}  // namespace connwatch
