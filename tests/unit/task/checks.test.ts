// What is refused before anything is created: two mounts at one path, and a
// task.md (plus mounted files) that cannot fit in a ConfigMap.
import assert from "assert";
import {
  configMapDataBytes,
  MAX_CONFIGMAP_DATA_BYTES,
  mountPathProblem,
  serviceAccountProblem,
  sizeProblem,
  taskMountProblem,
} from "../../../controllers/task/checks.ts";
import type { ResolvedContext } from "../../../controllers/task/contexts.ts";
import { makeAgent, makeTask } from "./fixtures.ts";

const file = (name: string, mountPath: string): ResolvedContext => ({
  kind: "file",
  name,
  namespace: "team-a",
  mountPath,
  text: "x",
});

Deno.test("checks: distinct mounts pass; appended contexts do not mount", () => {
  const contexts: ResolvedContext[] = [
    file("a", "/workspace/a.md"),
    file("b", "/workspace/b.md"),
    { kind: "append", name: "c", namespace: "team-a", type: "Inline", content: "c" },
  ];
  assert.equal(mountPathProblem(makeAgent(), contexts), undefined);
});

Deno.test("checks: two contexts at one path (however spelled) are a MountPathConflict", () => {
  const problem = mountPathProblem(makeAgent(), [
    file("a", "/workspace/guide.md"),
    file("b", "/workspace//guide.md/"),
  ]);
  assert.equal(problem?.reason, "MountPathConflict");
  assert.match(
    problem!.message,
    /Context "team-a\/a" and Context "team-a\/b" are both mounted at \/workspace\/guide\.md/,
  );
});

Deno.test("checks: a context over task.md or the workspace itself, or over a credential, conflicts", () => {
  assert.match(
    mountPathProblem(makeAgent(), [file("a", "/workspace/task.md")])!.message,
    /task\.md and Context "team-a\/a"/,
  );
  assert.match(
    mountPathProblem(makeAgent(), [file("a", "/workspace")])!.message,
    /the workspace \(workspaceDir\) and Context/,
  );
  const agent = makeAgent({
    credentials: [{ name: "key", secretRef: { name: "s", key: "k" }, mountPath: "/home/.ssh/id" }],
  });
  assert.match(
    mountPathProblem(agent, [file("a", "/home/.ssh/id")])!.message,
    /credential "key" and Context "team-a\/a"|Context "team-a\/a" and credential "key"/,
  );
});

Deno.test("checks: a ConfigMap over the limit is ContextTooLarge; bytes count UTF-8 and base64", () => {
  assert.equal(configMapDataBytes({ data: { k: "é" }, binaryData: { b: "AAAA" } }), 1 + 2 + 1 + 3);
  assert.equal(sizeProblem({ data: { "task.md": "x".repeat(1000) } }), undefined);
  const big = sizeProblem({ data: { "task.md": "x".repeat(MAX_CONFIGMAP_DATA_BYTES) } });
  assert.equal(big?.reason, "ContextTooLarge");
  assert.match(big!.message, /come to \d+ bytes/);
});

Deno.test("checks: an Agent may not run as the operator's own ServiceAccount", () => {
  const agent = makeAgent({ serviceAccountName: "kubetask-controller" }); // in team-a
  assert.equal(serviceAccountProblem(agent, undefined), undefined);
  assert.equal(serviceAccountProblem(agent, "kubetask-system/kubetask-controller"), undefined);
  assert.equal(serviceAccountProblem(makeAgent(), "team-a/kubetask-controller"), undefined);
  const problem = serviceAccountProblem(agent, "team-a/kubetask-controller");
  assert.equal(problem?.reason, "InvalidAgent");
  assert.match(problem?.message ?? "", /"kubetask-controller", the operator's own ServiceAccount/);
});

Deno.test("checks: a Task mounts its contexts only under the workspace or an allowed prefix", () => {
  const at = (...paths: string[]) =>
    makeTask({ contexts: paths.map((mountPath, i) => ({ name: `c${i}`, mountPath })) });
  const agent = makeAgent();
  assert.equal(taskMountProblem(at("/workspace/guide.md", "/workspace/a/b", ""), agent), undefined);
  const problem = taskMountProblem(at("/workspace/ok.md", "/usr/local/bin/echo-agent"), agent);
  assert.equal(problem?.reason, "MountPathNotAllowed");
  assert.equal(
    problem?.message,
    'spec.contexts[1].mountPath "/usr/local/bin/echo-agent" is outside what Agent "default" ' +
      'allows Tasks to mount (/workspace): mount it under "/workspace/", or ask the Agent\'s ' +
      "admin to add a prefix to spec.allowedMountPrefixes",
  );
  // A sibling that shares the prefix's letters is not under it.
  assert.ok(taskMountProblem(at("/workspace-evil/x"), agent));
  // The Agent may allow more; its own contexts are not the Task's to check.
  const wider = makeAgent({
    allowedMountPrefixes: ["/home/agent/docs/"],
    contexts: [{ name: "settings", mountPath: "/home/agent/.config/settings.json" }],
  });
  assert.equal(taskMountProblem(at("/home/agent/docs/x.md"), wider), undefined);
  assert.ok(taskMountProblem(at("/home/agent/.config/settings.json"), wider));
  assert.equal(taskMountProblem(makeTask(), wider), undefined);
});
