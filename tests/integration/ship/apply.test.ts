// `kubectl apply -k deploy/` on a real control plane, and the RBAC it grants
// judged by the apiserver's own authorizer (kubectl auth can-i --as).
import assert from "assert";
import { eventually, kubectl, testNamespace } from "../env.ts";
import { installDeploy } from "./install.ts";

const SA = "system:serviceaccount:kubetask-system:kubetask-controller";

/** `resource` may name a subresource as "tasks.kubetask.io/status", or an object as ".../NAME"
 *  with `named`; `namespace` "" for a cluster-scoped resource. */
async function can(
  verb: string,
  resource: string,
  namespace: string,
  as = SA,
  named = false,
): Promise<boolean> {
  // "x/status" as a plain argument would mean the object named "status".
  const [base, rest] = resource.split("/");
  const args = ["auth", "can-i", verb, named ? resource : base, "--as", as];
  if (namespace) args.push("-n", namespace);
  if (rest && !named) args.push(`--subresource=${rest}`);
  // can-i exits 1 for "no", which the kubectl helper reports as an error.
  const out = await kubectl(args).catch((e) => String(e));
  return out.trim() === "yes";
}

Deno.test("kubectl apply -k deploy/ installs the operator, and its RBAC is least privilege", async () => {
  const installed = await installDeploy();
  try {
    assert.match(
      installed.output,
      /deployment\.apps\/kubetask-controller (created|configured|unchanged)/,
    );
    assert.match(
      installed.output,
      /customresourcedefinition\.apiextensions\.k8s\.io\/tasks\.kubetask\.io/,
    );

    // The Deployment is accepted and its pod admitted under Pod Security "restricted".
    await eventually("the operator pod to be created", async () => {
      const pods = await kubectl([
        "get",
        "pods",
        "-n",
        "kubetask-system",
        "-l",
        "app.kubernetes.io/name=kubetask",
        "-o",
        "name",
      ]);
      return pods.trim().length > 0;
    }, 60_000);

    const anyNamespace = "default";
    const allowed: [string, string, string][] = [
      ["create", "tasks.kubetask.io", anyNamespace],
      ["delete", "tasks.kubetask.io", anyNamespace],
      ["update", "tasks.kubetask.io/status", anyNamespace],
      ["watch", "crontasks.kubetask.io", anyNamespace],
      ["update", "crontasks.kubetask.io/status", anyNamespace],
      ["list", "agents.kubetask.io", anyNamespace],
      ["update", "agents.kubetask.io/status", anyNamespace],
      ["create", "networkpolicies.networking.k8s.io", anyNamespace],
      ["delete", "networkpolicies.networking.k8s.io", anyNamespace],
      ["get", "services", anyNamespace],
      ["watch", "contexts.kubetask.io", anyNamespace],
      ["get", "kubetaskconfigs.kubetask.io", anyNamespace],
      ["watch", "namespacebudgets.kubetask.io", anyNamespace],
      ["create", "jobs.batch", anyNamespace],
      // Only a Kueue Job that must never run its agent (stopped while waiting, preempted after start).
      ["delete", "jobs.batch", anyNamespace],
      ["patch", "configmaps", anyNamespace],
      ["create", "events", anyNamespace],
      ["patch", "events", anyNamespace],
      ["patch", "leases.coordination.k8s.io", "kubetask-system"],
    ];
    const denied: [string, string, string][] = [
      ["get", "secrets", anyNamespace],
      ["list", "secrets", "kubetask-system"],
      ["create", "crontasks.kubetask.io", anyNamespace],
      ["delete", "crontasks.kubetask.io", anyNamespace],
      ["create", "agents.kubetask.io", anyNamespace],
      ["update", "agents.kubetask.io", anyNamespace],
      ["update", "networkpolicies.networking.k8s.io", anyNamespace],
      ["list", "services", anyNamespace],
      ["update", "jobs.batch", anyNamespace],
      ["list", "configmaps", anyNamespace],
      ["delete", "configmaps", anyNamespace],
      ["update", "tasks.kubetask.io", anyNamespace],
      ["patch", "tasks.kubetask.io/status", anyNamespace],
      ["patch", "crontasks.kubetask.io", anyNamespace],
      ["create", "pods", anyNamespace],
      ["get", "leases.coordination.k8s.io", anyNamespace],
      ["delete", "leases.coordination.k8s.io", "kubetask-system"],
      // Leader election only ever patches (leader.ts): no PUT.
      ["update", "leases.coordination.k8s.io", "kubetask-system"],
      ["create", "clusterroles.rbac.authorization.k8s.io", anyNamespace],
      // A namespace's spend is the gateway's to write, its limit the platform's.
      ["update", "namespacebudgets.kubetask.io", anyNamespace],
      ["update", "namespacebudgets.kubetask.io/status", anyNamespace],
    ];
    for (const [verb, resource, ns] of allowed) {
      assert.ok(await can(verb, resource, ns), `the operator may ${verb} ${resource} in ${ns}`);
    }
    for (const [verb, resource, ns] of denied) {
      assert.ok(
        !await can(verb, resource, ns),
        `the operator may NOT ${verb} ${resource} in ${ns}`,
      );
    }

    // What a namespace's users see of its spend: each Task's status.usage, never its
    // NamespaceBudget (cluster-scoped, so no RoleBinding of the user roles reaches it), until the
    // platform grants that one by name (README, Namespace budgets: the recipe tested here).
    const tenant = await testNamespace("tenant");
    const budgets = "namespacebudgets.kubetask.io";
    const grant = `kubetask-namespacebudget-${tenant.name}`;
    try {
      for (
        const [user, role] of [["alice", "kubetask-agent-admin"], [
          "bob",
          "kubetask-task-submitter",
        ]]
      ) {
        await kubectl([
          "create",
          "rolebinding",
          user,
          "-n",
          tenant.name,
          `--clusterrole=${role}`,
          `--user=${user}`,
        ]);
        assert.ok(await can("get", "tasks.kubetask.io", tenant.name, user), `${user} gets Tasks`);
        for (
          const [verb, resource, namespace] of [
            ["get", `${budgets}/${tenant.name}`, ""],
            ["get", `${budgets}/${tenant.name}`, tenant.name],
            ["list", budgets, ""],
            ["update", `${budgets}/${tenant.name}`, ""],
          ]
        ) {
          assert.ok(
            !await can(verb, resource, namespace, user, true),
            `${user} may NOT ${verb} ${resource}`,
          );
        }
      }
      await kubectl([
        "create",
        "clusterrole",
        grant,
        "--verb=get",
        `--resource=${budgets}`,
        `--resource-name=${tenant.name}`,
      ]);
      await kubectl([
        "create",
        "clusterrolebinding",
        grant,
        `--clusterrole=${grant}`,
        "--user=alice",
      ]);
      assert.ok(
        await can("get", `${budgets}/${tenant.name}`, "", "alice", true),
        "alice reads hers",
      );
      for (
        const [verb, resource] of [
          ["get", `${budgets}/someone-else`],
          ["list", budgets],
          ["watch", budgets],
          ["update", `${budgets}/${tenant.name}`],
          ["patch", `${budgets}/${tenant.name}`],
        ]
      ) {
        assert.ok(
          !await can(verb, resource, "", "alice", true),
          `alice may NOT ${verb} ${resource}`,
        );
      }
      assert.ok(!await can("update", `${budgets}/status`, "", "alice"), "nor write its spend");
    } finally {
      await kubectl(["delete", "clusterrolebinding,clusterrole", grant, "--ignore-not-found"]);
      await tenant.cleanup();
    }
  } finally {
    await installed.cleanup();
  }
});
