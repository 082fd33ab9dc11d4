// Linux capabilities (capabilities(7)): the ones `connwatch serve` needs, and dropping every
// other one at start. A set is a bit mask indexed by capability number, as the kernel shows
// it in the Cap* lines of /proc/<pid>/status and hands it over in capget(2)/capset(2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace connwatch {

using CapabilitySet = uint64_t;

// Numbers from <linux/capability.h>; they are kernel ABI and never change.
constexpr int kCapDacReadSearch = 2;
constexpr int kCapSetpcap = 8;
constexpr int kCapNetBindService = 10;
constexpr int kCapNetAdmin = 12;
constexpr int kCapSysPtrace = 19;
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

constexpr CapabilitySet CapabilityBit(int cap) { return CapabilitySet{1} << cap; }

// Loading and attaching the eBPF connection-event program (sources/bpf_events.h).
constexpr CapabilitySet kEbpfCapabilities = CapabilityBit(kCapPerfmon) | CapabilityBit(kCapBpf);

// CAP_DAC_READ_SEARCH + CAP_SYS_PTRACE: other users' /proc/<pid>/fd (socket owners) and
// /proc/<pid>/exe. CAP_NET_ADMIN: the conntrack dump (exact connection ages).
constexpr CapabilitySet kConnwatchCapabilities =
    CapabilityBit(kCapDacReadSearch) | CapabilityBit(kCapSysPtrace) | CapabilityBit(kCapNetAdmin);

// Both are needed to read another user's /proc/<pid>/fd: the first opens the directory, the
// second reads its links.
constexpr CapabilitySet kSocketOwnerCapabilities =
    CapabilityBit(kCapDacReadSearch) | CapabilityBit(kCapSysPtrace);

// The five sets of one thread.
struct CapabilityState {
  CapabilitySet effective = 0;
  CapabilitySet permitted = 0;
  CapabilitySet inheritable = 0;
  CapabilitySet bounding = 0;
  CapabilitySet ambient = 0;

  bool operator==(const CapabilityState&) const = default;
};

// "cap_sys_ptrace" (the names of capsh and setpriv); "cap_41" for numbers newer than this
// table.
std::string CapabilityName(int cap);

// "cap_dac_read_search,cap_net_admin,cap_sys_ptrace" in number order; "" for none.
std::string FormatCapabilities(CapabilitySet set);

// The CapInh, CapPrm, CapEff, CapBnd and CapAmb lines of /proc/<pid>/status (16 hex digits
// each). nullopt when one is missing, repeated or not hex.
std::optional<CapabilityState> ParseStatusCapabilities(std::string_view status);

// What stops working without one of kConnwatchCapabilities; "" for any other capability.
std::string_view DegradationWithout(int cap);

// The capabilities serve needs: kConnwatchCapabilities, plus CAP_NET_BIND_SERVICE when it
// listens on a port below 1024 (":80"), which root could bind before the drop.
// CAP_SYS_ADMIN too when other network namespaces are read through setns() (a sock_diag
// socket made inside each; without it, each is read through /proc/<pid>/net).
// CAP_BPF and CAP_PERFMON when the eBPF event source is to be loaded (`ebpf`).
CapabilitySet RequiredCapabilities(std::string_view listen_address, bool netns_setns = false,
                                   bool ebpf = false);

// How to get from `current` to holding only `required`. connwatch runs no other program, so
// nothing is left inheritable or ambient: those sets only matter across execve(2).
struct CapabilityPlan {
  CapabilityState target;
  CapabilitySet kept = 0;     // required and permitted: effective and permitted after the drop
  CapabilitySet lacking = 0;  // required but not permitted: these features degrade
  CapabilitySet dropped = 0;  // permitted now, not after the drop
  // Bounding-set entries to drop. Only possible while CAP_SETPCAP is permitted (root);
  // otherwise the bounding set stays as it is (systemd's CapabilityBoundingSet= limits it).
  CapabilitySet bounding_drop = 0;
};
CapabilityPlan PlanCapabilityDrop(const CapabilityState& current, CapabilitySet required);

// --- I/O: the calling thread's capabilities. ---

// capget(2) for the effective, permitted and inheritable sets; prctl(2) for the bounding and
// ambient sets. False with `error` set when the kernel refuses.
bool ReadCapabilities(CapabilityState& state, std::string& error);

// Whether the calling thread holds every capability of `set` in its effective set (capget(2)
// alone; false when it fails).
bool HasEffectiveCapabilities(CapabilitySet set);

// Reaches plan.target: bounding set first (it needs CAP_SETPCAP, which the last step gives
// up), then ambient, then capset(2). False with `error` naming the failed step.
bool ApplyCapabilityPlan(const CapabilityPlan& plan, std::string& error);

// Read, plan, apply, read back and log (logfmt) what was kept and which required capability
// is lacking and what degrades without it. Never fatal: on failure it logs an error and
// connwatch runs on with what it has. Capabilities belong to a thread and threads inherit
// them when created, so this must run before the first thread is started.
void DropUnneededCapabilities(CapabilitySet required);

}  // namespace connwatch
