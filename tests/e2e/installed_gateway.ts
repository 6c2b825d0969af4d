// The model gateway as users deploy it: `helm install` with gateway.enabled
// (installed_operator.ts), its pod on the real node from the local image, its
// transcript claim bound to a hostPath PersistentVolume made here (what a
// StorageClass's provisioner does on a real cluster; the local cluster has
// none), and runs of the gateway cases against it: a ModelProvider whose key
// Secret is in the install's namespace and whose upstream is the scripted
// model server on the node's bridge.
import { join } from "node:path";
import type { Script } from "../../localcluster/model_server/mod.ts";
import { REAL_NODE_LABEL, REAL_NODE_LABEL_VALUE } from "../../localcluster/realnode/node_config.ts";
import { kubectl } from "../integration/env.ts";
import { startGatewayWorld } from "../integration/gateway/world.ts";
import { type Json, TaskHarness } from "../integration/task/harness.ts";
import type { GatewayCase } from "./agents/gateway_cases.ts";
import { type GatewayRun, gatewayRunOn } from "./agents/through_gateway.ts";
import { type InstalledOperator, installOperator, readyPod } from "./installed_operator.ts";
import { realNode } from "./real_node.ts";

/** The uid the chart runs the gateway as (its securityContext). */
const GATEWAY_UID = 65532;

export interface InstalledGateway {
  op: InstalledOperator;
  /** The chart's Service, as agent pods reach it (the operator's --gateway-url). */
  url: string;
  /** The selector of the gateway's pods. */
  selector: string;
  /** The transcript volume's directory, on this host (the real node's). */
  volumeDir: string;
  /** The gateway's pod once Running and Ready (optionally a given uid's successor). */
  pod(not?: string): Promise<Json>;
  /** A run of `c` on this gateway (a world in its namespace, a harness on the installed operator). */
  run(c: GatewayCase, scripts: Script[], eventDelayMs?: number): Promise<GatewayRun>;
  close(): Promise<void>;
}

/** The PersistentVolume the transcript claim binds to (gateway.transcripts.volumeName). */
function hostPathVolume(name: string, path: string): Json {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      // The claim's class: the chart's default (none) on a cluster without a default StorageClass.
      storageClassName: "",
      hostPath: { path, type: "Directory" },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{
            matchExpressions: [{
              key: REAL_NODE_LABEL,
              operator: "In",
              values: [REAL_NODE_LABEL_VALUE],
            }],
          }],
        },
      },
    },
  };
}

/** Installs the chart with the gateway, watching `namespaces` new namespaces (one per run). */
export async function installGateway(namespaces: number): Promise<InstalledGateway> {
  const volume = `kubetask-e2e-transcripts-${crypto.randomUUID().slice(0, 8)}`;
  // hostPath volumes get no fsGroup: the directory is the gateway user's, as a provisioner's
  // would be writable by the pod's fsGroup.
  const volumeDir = await Deno.makeTempDir({ prefix: "e2e-gateway-volume-" });
  await Deno.chown(volumeDir, GATEWAY_UID, GATEWAY_UID);
  await Deno.chmod(volumeDir, 0o700);
  await kubectl(["apply", "-f", "-"], JSON.stringify(hostPathVolume(volume, volumeDir)));
  const dropVolume = async () => {
    await kubectl(["delete", "pv", volume, "--ignore-not-found", "--wait=false"]);
    await Deno.remove(volumeDir, { recursive: true }).catch(() => {});
  };
  let op: InstalledOperator;
  try {
    op = await installOperator(namespaces, [
      "--set",
      "gateway.enabled=true",
      "--set",
      `gateway.transcripts.volumeName=${volume}`,
      "--set",
      "gateway.transcripts.size=1Gi",
      "--set",
      "gateway.usageFlushInterval=1s",
    ]);
  } catch (err) {
    await dropVolume();
    throw err;
  }
  const selector = `${op.selector},app.kubernetes.io/component=gateway`;
  const url = `https://kubetask-gateway.${op.opNs}.svc:8443`;
  return {
    op,
    url,
    selector,
    volumeDir,
    pod: (not) => readyPod(op, not, selector),
    async run(c, scripts, eventDelayMs) {
      const w = await startGatewayWorld({
        hostname: realNode!.gateway,
        scripts,
        protocol: c.protocol,
        eventDelayMs,
        namespace: op.opNs,
        installed: { url, transcriptDir: join(volumeDir, "transcripts") },
      });
      const h = await TaskHarness.start({ operator: op });
      const tls = JSON.parse(
        await kubectl(["get", "secret", "kubetask-gateway-tls", "-n", op.opNs, "-o", "json"]),
      );
      return await gatewayRunOn(c, w, h, {
        caPem: atob(tls.data["ca.crt"]),
        dir: await Deno.makeTempDir({ prefix: "e2e-installed-gateway-" }),
        // Through the apiserver's service proxy to the gateway's pod, as users read it.
        transcriptVia: ["--gateway-namespace", op.opNs],
      });
    },
    async close() {
      await op.close();
      await dropVolume();
    },
  };
}
