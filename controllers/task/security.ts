// The securityContext every container of an agent pod starts from.

/**
 * No privilege escalation, no capabilities, the runtime's default seccomp
 * profile: what Pod Security "restricted" asks of a container, short of a
 * non-root user, which depends on the image (an Agent sets runAsNonRoot or
 * runAsUser in its securityContext when its image allows).
 */
export const HARDENED_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};
