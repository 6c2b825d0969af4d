// What Pod Security "baseline" allows in the fields an Agent reaches: the one
// definition, read by the controller's check (controllers/task/baseline.ts)
// and by the admission policy generated from it (api/crdgen/agent_policy.ts).

/** Capabilities baseline lets a container add. */
export const BASELINE_CAPABILITIES = [
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
] as const;

/** SELinux types baseline allows (user and role may not be set at all). */
export const BASELINE_SELINUX_TYPES = [
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
] as const;

/** Sysctls baseline calls safe. */
export const SAFE_SYSCTLS = [
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
] as const;

/** Pod annotations that set a container's AppArmor profile (runtime/default or localhost/*). */
export const APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/";

/** What a refusal adds: how a cluster that wants privileged agents gets them. */
export const PRIVILEGED_OPT_IN =
  "privileged agents run only where the operator is started with --allow-privileged-agents " +
  "(Helm value allowPrivilegedAgents, which also leaves out the kubetask-agent-baseline " +
  "admission policy)";
