// Every metric name and help text connwatch exposes. Names are a contract with rules/,
// dashboards/ and users' queries: change them only with all of those.
#pragma once

namespace connwatch::metric {

struct Info {
  const char* name;
  const char* help;  // single line, no backslash: it is written verbatim
};

inline constexpr Info kSockets{"connwatch_sockets",
                               "Sockets by transport protocol, address family and state."};
inline constexpr Info kListenerInfo{
    "connwatch_listener_info",
    "One series per listening socket and owning process name; process is empty when no "
    "owner was found."};
inline constexpr Info kProcessConnections{
    "connwatch_process_connections",
    "Established connections by owning process, direction and zone of the peer."};
inline constexpr Info kUnownedSockets{
    "connwatch_unowned_sockets",
    "Sockets with an inode whose owning process was not found (exited, or not readable "
    "without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)."};
inline constexpr Info kUnattributedConnections{
    "connwatch_unattributed_connections",
    "Sockets with a peer not attributed through their own fd, by reason: accept_queue (waiting "
    "to be accepted, counted for their listener's owners), owner_exited (owner gone during the "
    "sample, judged next sample), unknown (no owner after a full walk)."};
inline constexpr Info kCollectorSuccess{"connwatch_collector_success",
                                        "Whether the collector succeeded in the last sample."};
inline constexpr Info kCollectorDuration{"connwatch_collector_duration_seconds",
                                         "How long the collector took in the last sample."};
inline constexpr Info kLastSampleTimestamp{
    "connwatch_last_sample_timestamp_seconds",
    "Unix time at which the sample served by this scrape was started."};
inline constexpr Info kSampleDuration{"connwatch_sample_duration_seconds",
                                      "How long the last sample took in all."};
inline constexpr Info kSamples{"connwatch_samples_total", "Samples taken since start."};
inline constexpr Info kSeriesDropped{
    "connwatch_series_dropped_total",
    "Series not emitted because their family reached --metrics.max-series, summed over "
    "samples."};
inline constexpr Info kSocketSource{
    "connwatch_socket_source_info",
    "The socket source of the last sample (netlink or procfs); fallback=1 when auto mode "
    "fell back to /proc/net because sock_diag failed."};
inline constexpr Info kScanErrors{
    "connwatch_scan_errors_total",
    "Problems met while reading the process table, by kind, summed over samples; "
    "vanished processes are normal churn."};
inline constexpr Info kParseErrors{
    "connwatch_parse_errors_total",
    "Malformed lines or messages skipped, by source, summed over samples."};
inline constexpr Info kUnexpectedListeners{
    "connwatch_unexpected_listeners",
    "Listening sockets that no listeners rule of the policy allows."};
inline constexpr Info kExpectedServiceUp{
    "connwatch_expected_service_up",
    "Whether each expected service of the policy has a matching listener (1) or not (0)."};
inline constexpr Info kUnexpectedNetworkProcesses{
    "connwatch_unexpected_network_processes",
    "Processes holding sockets that network_processes does not allow."};
inline constexpr Info kUnexpectedNetworkProcessSockets{
    "connwatch_unexpected_network_process_sockets",
    "Sockets held by processes that network_processes does not allow, by process name."};
inline constexpr Info kPathViolations{
    "connwatch_path_violations",
    "Established connections that no paths rule allows; port is the local port of inbound "
    "and the remote port of outbound connections."};
inline constexpr Info kFindingInfo{
    "connwatch_finding_info",
    "One series per finding of the policy checks, capped by --findings.max-series."};
inline constexpr Info kCheckActive{
    "connwatch_check_active",
    "Whether each policy check is active (its policy section is present or learned)."};
inline constexpr Info kBaselineLearning{"connwatch_baseline_learning",
                                        "1 while the baseline is being learned, else 0."};
inline constexpr Info kBaselineRules{"connwatch_baseline_rules",
                                     "Rules in the learned baseline, by policy section."};
inline constexpr Info kReloadSuccessful{
    "connwatch_config_last_reload_successful",
    "Whether the last policy (re)load succeeded; a failed reload keeps the running policy."};
inline constexpr Info kReloadSuccessTimestamp{
    "connwatch_config_last_reload_success_timestamp_seconds",
    "Unix time of the last successful policy (re)load."};
inline constexpr Info kConnectionMaxAge{
    "connwatch_connection_max_age_seconds",
    "Age of the oldest established connection, by owning process, direction and zone."};
inline constexpr Info kLongConnections{
    "connwatch_long_connections",
    "Established connections older than limits.long_connection of the policy."};
inline constexpr Info kConnectionAgeSources{
    "connwatch_connection_age_sources",
    "Established connections by where their age came from: conntrack (exact), first_seen "
    "(since connwatch first saw them), process_start (an upper bound)."};
inline constexpr Info kConntrackTimestamps{
    "connwatch_conntrack_timestamps_enabled",
    "Whether net.netfilter.nf_conntrack_timestamp is on, so tracked flows have exact ages."};
inline constexpr Info kStateErrors{
    "connwatch_state_errors_total",
    "Failures to load or save the persisted state, by operation and file (baseline, "
    "connections, beacons)."};
inline constexpr Info kHttpConnectionsRejected{
    "connwatch_http_connections_rejected_total",
    "HTTP connections the front closed or refused: header_timeout, peer_limit, total_limit, "
    "tls_handshake, request_too_large, response_timeout."};
inline constexpr Info kConnectionsOpened{
    "connwatch_connections_opened_total",
    "TCP connections that reached ESTABLISHED, however short, by owning process, direction and "
    "peer zone (from the connection events and the samples)."};
inline constexpr Info kConnectionsFailed{
    "connwatch_connections_failed_total",
    "Outbound TCP connects that never established (refused, reset, timed out), by process and "
    "peer zone."};
inline constexpr Info kTcpBytes{
    "connwatch_tcp_bytes_total",
    "Bytes of TCP connections (tcp_info bytes_acked sent, bytes_received received; SYN and FIN "
    "count 1 each), by process, direction, peer zone and flow. TCP only: the kernel keeps no "
    "per-socket byte counters for UDP."};
inline constexpr Info kConnectionDuration{
    "connwatch_connection_duration_seconds",
    "Lifetimes of closed TCP connections whose start was seen, by direction and peer zone."};
inline constexpr Info kEventsSourceInfo{
    "connwatch_events_source_info",
    "The source of connection events between samples: ebpf, sock_diag or off."};
inline constexpr Info kEventsLost{
    "connwatch_events_lost_total",
    "Connection events lost: records the eBPF program could not deliver, destroy notifications "
    "the kernel dropped, and queue overflow."};
inline constexpr Info kFindingEvents{
    "connwatch_finding_events_total",
    "Connections that violated the policy, each counted once per check and owner, whether a "
    "sample saw it or only the connection events did."};
inline constexpr Info kBeacons{
    "connwatch_beacons",
    "Pairs of a process and a remote address and port whose connection starts are periodic "
    "(beacon score at or above limits.beacon.min_score) and that no paths rule allows as a "
    "beacon."};
inline constexpr Info kBeaconScore{
    "connwatch_beacon_score",
    "How periodic the connection starts of a process to one remote address and port are, 0 to 1, "
    "over limits.beacon.window: the highest pairs (capped by --findings.max-series)."};
inline constexpr Info kBeaconScoresPending{
    "connwatch_beacon_scores_pending",
    "Beacon pairs with new connections whose score waits for a later sample (at most 500 are "
    "rescored a sample, those scored longest ago first)."};
inline constexpr Info kOutboundScanTargets{
    "connwatch_outbound_scan_targets",
    "Distinct remote (address, port) targets of a process's failed outbound TCP connects in the "
    "last 5 minutes (estimated: exact to 208, then within about 4%)."};
inline constexpr Info kInboundProbes{
    "connwatch_inbound_probes_total",
    "TCP connection attempts (SYN) to local ports nobody listens on, by peer zone (eBPF only)."};
inline constexpr Info kDetectionKeys{
    "connwatch_detection_keys",
    "What the detections track: beacon pairs, scanning processes (outbound_scan) and probing "
    "peers (inbound_scan)."};
inline constexpr Info kDetectionKeysEvicted{
    "connwatch_detection_keys_evicted_total",
    "Detection keys forgotten because their table was full (the least recently seen go first)."};
inline constexpr Info kBuildInfo{"connwatch_build_info",
                                 "A metric with a constant 1 labeled by version and revision."};
inline constexpr Info kContainerInfo{
    "connwatch_container_info",
    "One series per container holding sockets, by id and runtime; namespace, pod and container "
    "are the Kubernetes names, empty when no bundle or pod log directory names them."};
inline constexpr Info kNetns{
    "connwatch_netns",
    "Network namespaces other than connwatch's own, by how the last sample read them: "
    "sock_diag (a socket made inside, CAP_SYS_ADMIN), procfs (/proc/<pid>/net), failed."};
inline constexpr Info kNetnsInfo{
    "connwatch_netns_info",
    "One series per network namespace other than connwatch's own; netns is the pinned name, "
    "else a container id's first 12 characters, else inode:<N>."};
inline constexpr Info kNetnsErrors{
    "connwatch_netns_errors_total",
    "Failures reading other network namespaces, by kind, since start."};
inline constexpr Info kDeletedExecutableProcesses{
    "connwatch_deleted_executable_processes",
    "Processes holding sockets while running an executable deleted from disk, by process name."};

}  // namespace connwatch::metric
