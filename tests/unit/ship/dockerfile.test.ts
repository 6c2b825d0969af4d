// The image ships only the compiled binary on distroless, as non-root.
import assert from "assert";
import { join } from "node:path";
import { parseConfig } from "../../../controllers/config.ts";
import { dockerfileStages, repoRoot } from "./manifests.ts";

const stages = () => dockerfileStages(join(repoRoot, "Dockerfile"));

Deno.test("the final image stage is distroless nonroot and holds only the binary", async () => {
  const all = await stages();
  assert.ok(all.length >= 2, "multi-stage build");
  const final = all.at(-1)!;
  assert.equal(final[0].args, "gcr.io/distroless/cc-debian12:nonroot");

  const copies = final.filter((i) => i.op === "COPY" || i.op === "ADD");
  assert.equal(copies.length, 1, "exactly one file enters the final image");
  assert.equal(copies[0].op, "COPY");
  assert.match(copies[0].args, /^--from=build\s+\S*\/dist\/kubetask\s+\/kubetask$/);

  // No shell in distroless: nothing may RUN there, and the entrypoint is exec form.
  assert.deepEqual(final.filter((i) => i.op === "RUN"), []);
  const entrypoint = final.find((i) => i.op === "ENTRYPOINT");
  assert.deepEqual(JSON.parse(entrypoint!.args), ["/kubetask"]);
  const cmd = final.find((i) => i.op === "CMD");
  assert.deepEqual(JSON.parse(cmd!.args), ["operator"]);

  const user = final.findLast((i) => i.op === "USER")?.args;
  assert.ok(user, "final stage sets USER");
  const uid = user.split(":")[0];
  assert.ok(uid !== "0" && uid !== "root", `non-root user, got ${user}`);
  assert.equal(uid, "65532", "numeric uid so the kubelet can enforce runAsNonRoot");

  // The port the operator serves /metrics on by default (HTTPS).
  const defaultPort = parseConfig([], () => undefined).metricsAddr.split(":").at(-1);
  assert.equal(final.find((i) => i.op === "EXPOSE")?.args, defaultPort);
});

Deno.test("the build stage uses the official Deno image at the project's Deno version", async () => {
  const [build] = await stages();
  assert.equal(build[0].args, `denoland/deno:${Deno.version.deno} AS build`);
  const runs = build.filter((i) => i.op === "RUN").map((i) => i.args);
  assert.ok(runs.includes("deno task compile"), `build runs deno task compile: ${runs}`);
});
