// An Agent may not lower its pods below Pod Security "baseline" unless the
// operator was started with --allow-privileged-agents.
import assert from "assert";
import { buildAgentPolicy } from "../../../api/crdgen/agent_policy.ts";
import { baselineFindings, baselineProblem } from "../../../controllers/task/baseline.ts";
import { makeAgent } from "./fixtures.ts";

Deno.test("baseline: what restricted-minded Agents set passes", () => {
  const agent = makeAgent({
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      capabilities: { add: ["NET_BIND_SERVICE", "CAP_CHOWN"] },
      seccompProfile: { type: "Localhost", localhostProfile: "agent.json" },
      procMount: "Default",
      seLinuxOptions: { type: "container_t", level: "s0:c1,c2" },
    },
    podSpec: {
      securityContext: {
        fsGroup: 1000,
        sysctls: [{ name: "net.ipv4.tcp_syncookies", value: "1" }],
      },
      annotations: { "container.apparmor.security.beta.kubernetes.io/agent": "runtime/default" },
    },
  });
  assert.deepEqual(baselineFindings(agent), []);
  assert.equal(baselineProblem(agent, false), undefined);
});

Deno.test("baseline: each escalation is named by its field; the opt-in lets them through", () => {
  const agent = makeAgent({
    securityContext: {
      privileged: true,
      capabilities: { add: ["SYS_ADMIN", "CHOWN"] },
      procMount: "Unmasked",
      seccompProfile: { type: "Unconfined" },
      appArmorProfile: { type: "Unconfined" },
      seLinuxOptions: { type: "spc_t", user: "system_u" },
      windowsOptions: { hostProcess: true },
    },
    podSpec: {
      securityContext: {
        seccompProfile: { type: "Unconfined" },
        sysctls: [{ name: "kernel.core_pattern", value: "|/x" }],
      },
      annotations: { "container.apparmor.security.beta.kubernetes.io/agent": "unconfined" },
    },
  });
  assert.deepEqual(baselineFindings(agent), [
    "spec.securityContext.privileged: true",
    'spec.securityContext.capabilities.add[0]: "SYS_ADMIN"',
    'spec.securityContext.procMount: "Unmasked"',
    'spec.securityContext.seccompProfile.type: "Unconfined"',
    'spec.securityContext.appArmorProfile.type: "Unconfined"',
    'spec.securityContext.seLinuxOptions.type: "spc_t"',
    'spec.securityContext.seLinuxOptions.user: "system_u"',
    "spec.securityContext.windowsOptions.hostProcess: true",
    'spec.podSpec.securityContext.seccompProfile.type: "Unconfined"',
    'spec.podSpec.securityContext.sysctls[0].name: "kernel.core_pattern"',
    'spec.podSpec.annotations["container.apparmor.security.beta.kubernetes.io/agent"]: ' +
    '"unconfined"',
  ]);
  const problem = baselineProblem(makeAgent({ securityContext: { privileged: true } }), false);
  assert.deepEqual(problem, {
    reason: "PrivilegedAgent",
    message: 'Agent "default" sets what Pod Security "baseline" forbids: ' +
      "spec.securityContext.privileged: true. Remove it from the Agent; privileged agents run " +
      "only where the operator is started with --allow-privileged-agents (Helm value " +
      "allowPrivilegedAgents, which also leaves out the kubetask-agent-baseline admission policy)",
  });
  assert.equal(baselineProblem(agent, true), undefined);
});

Deno.test("baseline: the admission policy checks every field the controller checks", () => {
  const everything = makeAgent({
    securityContext: {
      privileged: true,
      capabilities: { add: ["SYS_ADMIN"] },
      procMount: "Unmasked",
      seccompProfile: { type: "Unconfined" },
      appArmorProfile: { type: "Unconfined" },
      seLinuxOptions: { type: "spc_t", user: "u", role: "r" },
      windowsOptions: { hostProcess: true },
    },
    podSpec: {
      securityContext: {
        seccompProfile: { type: "Unconfined" },
        appArmorProfile: { type: "Unconfined" },
        seLinuxOptions: { type: "spc_t", user: "u", role: "r" },
        windowsOptions: { hostProcess: true },
        sysctls: [{ name: "kernel.core_pattern", value: "x" }],
      },
      annotations: { "container.apparmor.security.beta.kubernetes.io/agent": "unconfined" },
    },
  });
  const field = (s: string) => s.replace(/(\[.*)?:.*$/, "").replace(/\s.*$/, "");
  const controller = new Set(baselineFindings(everything).map(field));
  // deno-lint-ignore no-explicit-any
  const [policy] = buildAgentPolicy() as any[];
  const admission = new Set(
    policy.spec.validations.map((v: { message: string }) => field(v.message)),
  );
  assert.deepEqual([...admission].sort(), [...controller].sort());
});
