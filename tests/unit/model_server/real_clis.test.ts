// The real agent CLIs against the scripted model server, on this host: each
// pinned CLI (when agents/clis.ts has put it in the cache)
// runs headless in a scratch git repository as an unprivileged user, and the
// script makes it run two shell commands with its own shell tool, then end.
// Not in the cache: the test is ignored, and its name says how to get it.
import assert from "assert";
import { join } from "node:path";
import { cliInvocation } from "../../../localcluster/model_server/cli_invocation.ts";
import { cachedCli, CLI_NAMES, type CliName } from "../../../agents/clis.ts";
import { startModelServer } from "../../../localcluster/model_server/mod.ts";

const UID = 65532;
const isRoot = Deno.uid() === 0;

/** Token usage as the CLI itself reported it in its JSON lines. */
function reportedUsage(name: CliName, jsonl: string) {
  let inputTokens = 0, outputTokens = 0;
  for (const line of jsonl.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    const e = JSON.parse(line);
    let u: { i?: number; o?: number } | undefined;
    if (name === "claude-code" && e.type === "result") {
      u = { i: e.usage?.input_tokens, o: e.usage?.output_tokens };
    }
    if (name === "codex" && e.type === "turn.completed") {
      u = { i: e.usage?.input_tokens, o: e.usage?.output_tokens };
    }
    if (name === "gemini-cli" && e.type === "result") {
      u = { i: e.stats?.input_tokens, o: e.stats?.output_tokens };
    }
    if (name === "opencode" && e.type === "step_finish") {
      u = { i: e.part?.tokens?.input, o: e.part?.tokens?.output };
    }
    if (u) {
      inputTokens += u.i ?? NaN;
      outputTokens += u.o ?? NaN;
    }
  }
  return { inputTokens, outputTokens };
}

async function run(cmd: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

for (const name of CLI_NAMES) {
  const cli = await cachedCli(name);
  Deno.test({
    name: cli
      ? `real CLI ${name}: two scripted shell commands run in its workspace, then it exits 0`
      : `real CLI ${name} (ignored: not in the cache; deno run -A agents/clis.ts ${name})`,
    ignore: !cli,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const marker = `MARK-${name}-${crypto.randomUUID().slice(0, 8)}`;
      const server = await startModelServer({
        hostname: "127.0.0.1",
        scripts: [{
          marker,
          turns: [
            { text: "Looking around first.", shell: "pwd > first.txt" },
            // Not $(( )): Gemini CLI blocks anything that looks like command substitution.
            { shell: "printf 'second-%s\\n' 42 > second.txt" },
            { text: "Both commands ran." },
          ],
        }],
      });
      const root = await Deno.makeTempDir({ prefix: `kubetask-cli-${name}-` });
      try {
        await Deno.chmod(root, 0o755);
        const home = join(root, "home");
        const work = join(root, "work");
        await Deno.mkdir(home);
        await Deno.mkdir(work);
        await run("git", ["init", "-q", "."], work);
        // The cache may sit under a home only root can enter: hard-link the package next to the run.
        const pkg = join(root, "cli");
        await run("cp", ["-al", cli!.dir, pkg]).catch(() => run("cp", ["-a", cli!.dir, pkg]));
        const executable = join(pkg, cli!.executable.slice(cli!.dir.length + 1));
        const apiKey = `sk-test-${name}`;
        const inv = cliInvocation(name, {
          executable,
          baseUrl: server.url,
          apiKey,
          prompt: `Please do the task ${marker}`,
          home,
        });
        for (const [path, content] of Object.entries(inv.files)) {
          await Deno.mkdir(join(home, path, ".."), { recursive: true });
          await Deno.writeTextFile(join(home, path), content);
        }
        if (isRoot) await run("chown", ["-R", `${UID}:${UID}`, home, work]);
        const node = new TextDecoder().decode(
          (await new Deno.Command("sh", {
            args: ["-c", "command -v node || true"],
            stdout: "piped",
          }).output())
            .stdout,
        ).trim();
        const path = [node ? join(node, "..") : "", "/usr/local/bin", "/usr/bin", "/bin"].filter(
          Boolean,
        )
          .join(":");
        const [cmd, ...args] = isRoot
          ? ["setpriv", "--reuid", `${UID}`, "--regid", `${UID}`, "--clear-groups", ...inv.args]
          : inv.args;
        const child = new Deno.Command(cmd, {
          args,
          cwd: work,
          clearEnv: true,
          env: { PATH: path, ...inv.env },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
        const out = await child.output();
        clearTimeout(timer);
        const stdout = new TextDecoder().decode(out.stdout);
        const stderr = new TextDecoder().decode(out.stderr);
        const context = `exit ${out.code}\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${
          stderr.slice(-3000)
        }\n--- requests\n${
          server.requests.map((r) => `${r.status} ${r.path} turn=${r.turn}`).join("\n")
        }`;
        assert.equal(out.code, 0, context);
        const read = (f: string) =>
          Deno.readTextFile(join(work, f)).then((t) => t.trim(), () => "(missing)");
        assert.equal(await read("first.txt"), work, context);
        assert.equal(await read("second.txt"), "second-42", context);
        const turns = server.requests.filter((r) => r.marker === marker && r.turn !== undefined);
        assert.deepEqual(
          turns.map((r) => [r.turn, r.status]),
          [[0, 200], [1, 200], [2, 200]],
          context,
        );
        const key = JSON.stringify(turns[0].headers);
        assert.ok(key.includes(apiKey), `the API key reached the server: ${key}`);
        assert.match(JSON.stringify(turns[0].body), new RegExp(marker));
        const usage = server.usage(marker);
        assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0);
        assert.deepEqual(
          reportedUsage(name, stdout),
          usage,
          "the CLI reports the tokens the server sent",
        );
      } finally {
        await server.close();
        await Deno.remove(root, { recursive: true }).catch(() => {});
      }
    },
  });
}
