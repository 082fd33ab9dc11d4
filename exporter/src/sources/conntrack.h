// conntrack over netlink (NETLINK_NETFILTER, ctnetlink): flow start timestamps, the exact
// age of tracked connections when net.netfilter.nf_conntrack_timestamp=1. Needs
// CAP_NET_ADMIN; an empty or absent table is normal.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model.h"

namespace connwatch {

// One flow as conntrack recorded it: the original-direction tuple and, when timestamps
// are enabled, the start time (CTA_TIMESTAMP_START, nanoseconds of CLOCK_REALTIME).
struct ConntrackFlow {
  Transport transport = Transport::kTcp;
  IpAddress source, destination;
  uint16_t source_port = 0, destination_port = 0;
  uint64_t start_unix_ns = 0;  // 0 when the flow has no timestamp
};

struct ConntrackStats {
  uint64_t malformed_messages = 0;
};

// Pure: one recv() buffer of a ctnetlink dump reply. Appends TCP and UDP flows. Returns
// false with `error` (an errno) on NLMSG_ERROR; sets `done` on NLMSG_DONE.
bool ParseConntrackReply(std::span<const uint8_t> buffer, std::vector<ConntrackFlow>& out,
                         ConntrackStats& stats, int& error, bool& done);

// Dumps the IPv4 and IPv6 conntrack tables of the caller's network namespace. Returns
// false with `error` when netlink refuses (no CAP_NET_ADMIN, nf_conntrack not loaded).
bool DumpConntrack(std::vector<ConntrackFlow>& out, ConntrackStats& stats, std::string& error);

}  // namespace connwatch
