// The model gateway as users deploy it: one `helm install` with
// gateway.enabled (installed_gateway.ts), the gateway and the operator pods
// on the real node from the image built here, agent pods calling
// https://kubetask-gateway.<ns>.svc through cluster DNS and the node's Service
// routing. The cases: Claude Code's fix-and-push run through it (the checks
// of through_gateway.ts, the transcript read through the apiserver's service
// proxy to the gateway's pod); the gateway's pod deleted while it streams an
// answer (strategy Recreate brings the next one on the same volume); a
// Restricted Agent reaching the gateway's Service and not the model server.
import assert from "assert";
import { CLAUDE_CODE_IMAGE } from "../../agents/images.ts";
import { fixAndPushScript, PROJECT_DIR } from "../../localcluster/demo_project.ts";
import { git } from "../../localcluster/git_server.ts";
import { FIELD_MANAGER } from "../../gateway/tasks.ts";
import { eventually, kubectl } from "../integration/env.ts";
import type { Json } from "../integration/task/harness.ts";
import { GATEWAY_CASES } from "./agents/gateway_cases.ts";
import {
  fixAndPushThroughGateway,
  transcriptCli,
  transcriptOf,
  transcriptOwner,
  turnOfRecord,
  turnsOf,
} from "./agents/through_gateway.ts";
import { type InstalledGateway, installGateway } from "./installed_gateway.ts";
import { readyPod } from "./installed_operator.ts";
import { IMAGE } from "./operator_install.ts";
import { agentLog, onRealNode, realNodeAgent } from "./real_node.ts";

const CLAUDE = GATEWAY_CASES["claude-code"];

Deno.test(
  onRealNode(
    "e2e: the chart's gateway pod: Claude Code through it, its pod deleted mid-stream, Restricted egress",
  ),
  async (t) => {
    const g = await installGateway(3);
    try {
      const first = await g.pod();
      await t.step("the gateway pod: the local image, its own account, hardened", () => {
        const spec = first.spec;
        assert.equal(spec.serviceAccountName, "kubetask-gateway");
        assert.equal(spec.containers[0].image, IMAGE);
        assert.equal(spec.containers[0].args[0], "gateway");
        assert.equal(spec.containers[0].securityContext.readOnlyRootFilesystem, true);
        assert.equal(spec.securityContext.runAsNonRoot, true);
        const claim = spec.volumes.find((v: Json) => v.name === "transcripts");
        assert.equal(claim.persistentVolumeClaim.claimName, "kubetask-gateway-transcripts");
        return Promise.resolve();
      });
      console.error(
        `[e2e] ${await kubectl(["get", "pods,pvc", "-n", g.op.opNs, "-o", "wide"])}`,
      );

      await t.step(
        "Claude Code fixes and pushes through the in-cluster gateway",
        () =>
          fixAndPushThroughGateway(CLAUDE, {
            start: (c, scripts) => g.run(c, scripts),
            more: async (run) => {
              // status.usage is the gateway pod's write (its field manager; no other gateway runs).
              const task = JSON.parse(
                await kubectl([
                  "get",
                  "task",
                  "fix",
                  "-n",
                  run.h.ns,
                  "-o",
                  "json",
                  "--show-managed-fields",
                ]),
              );
              const usage = task.metadata.managedFields.find((f: Json) =>
                f.manager === FIELD_MANAGER && f.subresource === "status"
              );
              assert.ok(usage?.fieldsV1?.["f:status"]?.["f:usage"], JSON.stringify(usage));
              // The transcript is on the volume (the claim's hostPath on the real node).
              assert.ok((await transcriptOf(run, "fix")).length > 0);
            },
          }),
      );

      await t.step(
        "the gateway pod deleted mid-stream: the run completes, counted once",
        () => deletedMidStream(g, first),
      );

      await t.step(
        "a Restricted Agent reaches the gateway's Service, not the model server",
        () => restrictedThroughService(g),
      );

      const operator = await readyPod(
        g.op,
        undefined,
        `${g.op.selector},app.kubernetes.io/component=controller`,
      );
      assert.equal(operator.status.containerStatuses[0].restartCount, 0);
    } finally {
      await g.close();
    }
  },
);

async function deletedMidStream(g: InstalledGateway, old: Json): Promise<void> {
  const marker = `MARK-claude-gwpod-${crypto.randomUUID().slice(0, 8)}`;
  // Paced: one event per 500 ms, so a tool turn's answer (about ten events) streams for ~5 s,
  // within the 10 s the gateway lets streams finish after SIGTERM.
  const run = await g.run(CLAUDE, [fixAndPushScript(marker, "resumed")], 500);
  const { w, h, gitServer } = run;
  try {
    const agentName = await run.agent();
    await h.context("resumed-src", { type: "Git", git: { repository: run.url, ref: "main" } });
    await h.task("resumed", {
      agentRef: agentName,
      description: `Make the tests of the calc project pass (${marker}).`,
      contexts: [{ name: "resumed-src", mountPath: PROJECT_DIR }],
    });
    const streaming = await eventually("the second turn streaming", () => {
      return Promise.resolve(
        w.model.requests.find((r) => r.marker === marker && r.turn === 1 && r.status),
      );
    }, 240_000);
    await kubectl(["delete", "pod", "-n", g.op.opNs, old.metadata.name, "--wait=false"]);
    const deletedAt = Date.now();
    const next = await g.pod(old.metadata.uid);
    const replacedMs = Date.now() - deletedAt;
    const turnsWhenReplaced = turnsOf(w.model.requests, marker).map((r) => r.turn);

    const done = await h.waitForPhase("resumed", "Completed", 300_000).catch(async (err) => {
      throw new Error(`${err}\n${await agentLog(h, "resumed").catch(() => "")}`);
    });
    const clone = await gitServer.clone(run.project, "kubetask/resumed");
    assert.deepEqual(done.status.outputs, {
      branch: "kubetask/resumed",
      commit: await git(clone, "rev-parse", "HEAD"),
    });

    // SIGTERM: the old pod took no new request and finished the answer under way, so each
    // turn was asked and answered once, and status.usage is the server's figures exactly.
    const turns = turnsOf(w.model.requests, marker);
    assert.equal(streaming.aborted, undefined, "the stream under way was finished, not cut");
    assert.deepEqual(turns.map((r) => [r.turn, r.aborted ?? false]), [
      [0, false],
      [1, false],
      [2, false],
      [3, false],
    ]);
    const served = w.model.usage(marker);
    assert.equal(done.status.usage.source, "Gateway");
    assert.equal(done.status.usage.inputTokens, served.inputTokens);
    assert.equal(done.status.usage.outputTokens, served.outputTokens);

    // The transcript on the volume: each turn once, complete, the first two written by the
    // deleted pod; the new pod serves all of it to the Task's owner through the service proxy.
    const records = await transcriptOf(run, "resumed");
    const scripted = records.filter((r) =>
      turnOfRecord(r.request) >= 0 && (r.usage?.inputTokens ?? 0) > 0
    );
    assert.deepEqual(
      scripted.map((r) => [turnOfRecord(r.request), r.status, r.incomplete ?? false]),
      [[0, 200, false], [1, 200, false], [2, 200, false], [3, 200, false]],
    );
    const before = scripted.filter((r) => Date.parse(r.time) < deletedAt);
    assert.deepEqual(before.map((r) => turnOfRecord(r.request)), [0, 1]);
    const owner = await transcriptOwner(run);
    const read = await transcriptCli(run, owner, ["resumed", "-n", h.ns, "-o", "json"]);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(JSON.parse(read.stdout), records);
    console.error(
      `[e2e] gateway pod ${old.metadata.name} deleted while turn 1 streamed; ` +
        `${next.metadata.name} Ready after ${replacedMs} ms (turns asked by then: ${
          JSON.stringify(turnsWhenReplaced)
        })`,
    );
    console.error(
      `[e2e] final usage ${JSON.stringify(done.status.usage)}; served ${JSON.stringify(served)}`,
    );
    console.error(
      `[e2e] the old pod's records: ${before.length}, all: ${records.length}, by the proxy: ${
        JSON.parse(read.stdout).length
      }`,
    );
  } finally {
    await run.close();
  }
}

/**
 * GETs each URL from the agent (node: the gateway speaks HTTPS, its CA is not
 * the point here), 5 s each; prints "ALLOWED url: status" or "BLOCKED url: code".
 */
function fetchEach(urls: string[]): string[] {
  const js = `const go=(u)=>new Promise(r=>{const m=u.startsWith("https")?require("https"):` +
    `require("http");const q=m.get(u,{rejectUnauthorized:false,timeout:5000},s=>{` +
    `console.log("ALLOWED "+u+": "+s.statusCode);s.resume();r()});q.on("timeout",()=>` +
    `{console.log("BLOCKED "+u+": timeout");q.destroy();r()});q.on("error",e=>{` +
    `if(!q.destroyed||e.code!=="ECONNRESET")console.log("BLOCKED "+u+": "+e.code);r()})});` +
    `(async()=>{await new Promise(r=>setTimeout(r,5000));` +
    `for(const u of ${JSON.stringify(urls)})await go(u)})()`;
  return ["node", "-e", js];
}

async function restrictedThroughService(g: InstalledGateway): Promise<void> {
  const run = await g.run(CLAUDE, []);
  const { w, h } = run;
  try {
    const gateway = `${g.url}/healthz`;
    const model = `${w.model.url}/v1/models`;
    await h.agent(
      "via-service",
      realNodeAgent({
        agentImage: CLAUDE_CODE_IMAGE,
        command: fetchEach([gateway, model]),
        modelProvider: w.provider,
        egress: { mode: "Restricted" },
      }),
    );
    await h.task("probe", { agentRef: "via-service" });
    await h.waitForPhase("probe", "Completed", 180_000);
    const log = await agentLog(h, "probe");
    console.error(`[e2e] Restricted, through the gateway's Service:\n${log}`);
    assert.ok(log.includes(`ALLOWED ${gateway}: 200`), log);
    assert.ok(log.includes(`BLOCKED ${model}: timeout`), log);
    assert.equal(w.model.requests.length, 0, "the model server was never reached from the pod");
  } finally {
    await run.close();
  }
}
