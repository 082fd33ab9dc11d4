#include "privilege/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/log.h"

namespace connwatch {
namespace {

// capability.h order, CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40, Linux 5.9).
constexpr std::array<std::string_view, 41> kNames = {"cap_chown",
                                                     "cap_dac_override",
                                                     "cap_dac_read_search",
                                                     "cap_fowner",
                                                     "cap_fsetid",
                                                     "cap_kill",
                                                     "cap_setgid",
                                                     "cap_setuid",
                                                     "cap_setpcap",
                                                     "cap_linux_immutable",
                                                     "cap_net_bind_service",
                                                     "cap_net_broadcast",
                                                     "cap_net_admin",
                                                     "cap_net_raw",
                                                     "cap_ipc_lock",
                                                     "cap_ipc_owner",
                                                     "cap_sys_module",
                                                     "cap_sys_rawio",
                                                     "cap_sys_chroot",
                                                     "cap_sys_ptrace",
                                                     "cap_sys_pacct",
                                                     "cap_sys_admin",
                                                     "cap_sys_boot",
                                                     "cap_sys_nice",
                                                     "cap_sys_resource",
                                                     "cap_sys_time",
                                                     "cap_sys_tty_config",
                                                     "cap_mknod",
                                                     "cap_lease",
                                                     "cap_audit_write",
                                                     "cap_audit_control",
                                                     "cap_setfcap",
                                                     "cap_mac_override",
                                                     "cap_mac_admin",
                                                     "cap_syslog",
                                                     "cap_wake_alarm",
                                                     "cap_block_suspend",
                                                     "cap_audit_read",
                                                     "cap_perfmon",
                                                     "cap_bpf",
                                                     "cap_checkpoint_restore"};

constexpr int kMaxCapability = 63;  // a set is 64 bits wide

std::string Errno(const char* what) { return std::string(what) + ": " + strerror(errno); }

std::optional<CapabilitySet> ParseHexMask(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty() || text.size() > 16) return std::nullopt;
  CapabilitySet mask = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mask, 16);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return mask;
}

// The capget/capset layout of _LINUX_CAPABILITY_VERSION_3: two 32-bit halves per set.
struct KernelCapabilities {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

  CapabilitySet Join(uint32_t __user_cap_data_struct::*field) const {
    return CapabilitySet{data[0].*field} | (CapabilitySet{data[1].*field} << 32);
  }
  void Split(uint32_t __user_cap_data_struct::*field, CapabilitySet set) {
    data[0].*field = static_cast<uint32_t>(set);
    data[1].*field = static_cast<uint32_t>(set >> 32);
  }
};

bool SetThreadCapabilities(CapabilitySet effective, CapabilitySet permitted,
                           CapabilitySet inheritable, std::string& error) {
  KernelCapabilities caps;
  caps.Split(&__user_cap_data_struct::effective, effective);
  caps.Split(&__user_cap_data_struct::permitted, permitted);
  caps.Split(&__user_cap_data_struct::inheritable, inheritable);
  // glibc has no capset wrapper; libcap would be a dependency for three syscalls.
  if (syscall(SYS_capset, &caps.header, caps.data) != 0) {
    error = Errno("capset");
    return false;
  }
  return true;
}

std::string ListOrNone(CapabilitySet set) {
  std::string names = FormatCapabilities(set);
  return names.empty() ? "none" : names;
}

}  // namespace

std::string CapabilityName(int cap) {
  if (cap >= 0 && static_cast<size_t>(cap) < kNames.size()) return std::string(kNames[cap]);
  return "cap_" + std::to_string(cap);
}

std::string FormatCapabilities(CapabilitySet set) {
  std::string names;
  for (int cap = 0; cap <= kMaxCapability; ++cap) {
    if ((set & CapabilityBit(cap)) == 0) continue;
    if (!names.empty()) names += ',';
    names += CapabilityName(cap);
  }
  return names;
}

std::optional<CapabilityState> ParseStatusCapabilities(std::string_view status) {
  struct Field {
    std::string_view key;
    CapabilitySet CapabilityState::*set;
    bool seen = false;
  };
  std::array<Field, 5> fields = {{{"CapInh:", &CapabilityState::inheritable},
                                  {"CapPrm:", &CapabilityState::permitted},
                                  {"CapEff:", &CapabilityState::effective},
                                  {"CapBnd:", &CapabilityState::bounding},
                                  {"CapAmb:", &CapabilityState::ambient}}};
  CapabilityState state;
  while (!status.empty()) {
    size_t newline = status.find('\n');
    std::string_view line = status.substr(0, newline);
    status = newline == std::string_view::npos ? std::string_view() : status.substr(newline + 1);
    for (Field& field : fields) {
      if (!line.starts_with(field.key)) continue;
      auto mask = ParseHexMask(line.substr(field.key.size()));
      if (!mask || field.seen) return std::nullopt;
      state.*field.set = *mask;
      field.seen = true;
    }
  }
  for (const Field& field : fields) {
    if (!field.seen) return std::nullopt;
  }
  return state;
}

std::string_view DegradationWithout(int cap) {
  switch (cap) {
    case kCapDacReadSearch:
      return "other users' /proc/<pid>/fd cannot be opened: their sockets are reported unowned";
    case kCapSysPtrace:
      return "other users' /proc/<pid>/fd and exe links cannot be read (with hidepid their "
             "processes are not even listed): their sockets are reported unowned";
    case kCapNetAdmin:
      return "no conntrack dump: connection ages come from first_seen and process_start only";
    case kCapNetBindService:
      return "cannot listen on a port below 1024";
    case kCapBpf:
    case kCapPerfmon:
      return "no eBPF connection events: short connections come from sock_diag destroy "
             "notifications (no process at connect, no durations of unsampled connections)";
    case kCapSysAdmin:
      return "no setns(): other network namespaces are read through /proc/<pid>/net (no socket "
             "cookies; a namespace pinned without a process is not read)";
    default:
      return "";
  }
}

CapabilitySet RequiredCapabilities(std::string_view listen_address, bool netns_setns, bool ebpf) {
  CapabilitySet required = kConnwatchCapabilities;
  if (netns_setns) required |= CapabilityBit(kCapSysAdmin);
  if (ebpf) required |= kEbpfCapabilities;
  std::string_view port = listen_address.substr(listen_address.rfind(':') + 1);
  unsigned number = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  // A malformed address is the HTTP server's to reject; it needs nothing extra here.
  if (error == std::errc() && end == port.data() + port.size() && number > 0 && number < 1024) {
    required |= CapabilityBit(kCapNetBindService);
  }
  return required;
}

CapabilityPlan PlanCapabilityDrop(const CapabilityState& current, CapabilitySet required) {
  CapabilityPlan plan;
  plan.kept = required & current.permitted;
  plan.lacking = required & ~current.permitted;
  plan.dropped = current.permitted & ~plan.kept;
  plan.target.effective = plan.kept;
  plan.target.permitted = plan.kept;
  plan.target.bounding = current.bounding;
  if (current.permitted & CapabilityBit(kCapSetpcap)) {
    plan.bounding_drop = current.bounding & ~plan.kept;
    plan.target.bounding = current.bounding & plan.kept;
  }
  return plan;
}

bool ReadCapabilities(CapabilityState& state, std::string& error) {
  KernelCapabilities caps;
  if (syscall(SYS_capget, &caps.header, caps.data) != 0) {
    error = Errno("capget");
    return false;
  }
  state.effective = caps.Join(&__user_cap_data_struct::effective);
  state.permitted = caps.Join(&__user_cap_data_struct::permitted);
  state.inheritable = caps.Join(&__user_cap_data_struct::inheritable);
  state.bounding = 0;
  state.ambient = 0;
  // Both reads answer EINVAL past the kernel's last capability (/proc/sys/kernel/cap_last_cap).
  for (int cap = 0; cap <= kMaxCapability; ++cap) {
    int in_bounding = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (in_bounding < 0) break;
    if (in_bounding == 1) state.bounding |= CapabilityBit(cap);
    // Kernels before 4.3 have no ambient set: EINVAL on the first, ambient stays empty.
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) {
      state.ambient |= CapabilityBit(cap);
    }
  }
  return true;
}

bool HasEffectiveCapabilities(CapabilitySet set) {
  KernelCapabilities caps;
  if (syscall(SYS_capget, &caps.header, caps.data) != 0) return false;
  return (caps.Join(&__user_cap_data_struct::effective) & set) == set;
}

bool ApplyCapabilityPlan(const CapabilityPlan& plan, std::string& error) {
  if (plan.bounding_drop != 0) {
    // Dropping from the bounding set needs CAP_SETPCAP in the effective set; root has it,
    // but make sure (it may be permitted only), already without everything else.
    constexpr CapabilitySet kSetpcap = CapabilityBit(kCapSetpcap);
    if (!SetThreadCapabilities(plan.kept | kSetpcap, plan.kept | kSetpcap, 0, error)) {
      return false;
    }
    for (int cap = 0; cap <= kMaxCapability; ++cap) {
      if ((plan.bounding_drop & CapabilityBit(cap)) == 0) continue;
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
        error = Errno(("prctl(PR_CAPBSET_DROP, " + CapabilityName(cap) + ")").c_str());
        return false;
      }
    }
  }
  // Ambient capabilities would only be handed to a program connwatch executes, and it
  // executes none. No privilege is needed to clear them; kernels before 4.3 lack them.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    error = Errno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
    return false;
  }
  return SetThreadCapabilities(plan.target.effective, plan.target.permitted,
                               plan.target.inheritable, error);
}

void DropUnneededCapabilities(CapabilitySet required) {
  CapabilityState before, after;
  std::string error;
  if (!ReadCapabilities(before, error)) {
    Log(LogLevel::kError, "cannot read capabilities; running with the ones inherited",
        {{"err", error}});
    return;
  }
  CapabilityPlan plan = PlanCapabilityDrop(before, required);
  bool applied = ApplyCapabilityPlan(plan, error);
  if (!applied) {
    Log(LogLevel::kError, "cannot drop capabilities; running with more than needed",
        {{"err", error}});
  }
  // Log what the kernel now says, not what was planned.
  if (!ReadCapabilities(after, error)) after = before;
  CapabilitySet kept = after.permitted & required;
  CapabilitySet lacking = required & ~after.permitted;
  std::string bounding = (after.bounding & ~after.permitted) == 0
                             ? ListOrNone(after.bounding)
                             : "not reduced without cap_setpcap (" +
                                   std::to_string(std::popcount(after.bounding)) + " capabilities)";
  Log(applied && after == plan.target ? LogLevel::kInfo : LogLevel::kError, "capabilities",
      {{"kept", ListOrNone(kept)},
       {"lacking", ListOrNone(lacking)},
       {"dropped", ListOrNone(before.permitted & ~after.permitted)},
       {"extra", ListOrNone(after.permitted & ~required)},
       {"bounding", bounding},
       {"ambient", ListOrNone(after.ambient)}});
  for (int cap = 0; cap <= kMaxCapability; ++cap) {
    if ((lacking & CapabilityBit(cap)) == 0) continue;
    Log(LogLevel::kWarn, "missing capability",
        {{"capability", CapabilityName(cap)}, {"degrades", std::string(DegradationWithout(cap))}});
  }
}

}  // namespace connwatch
