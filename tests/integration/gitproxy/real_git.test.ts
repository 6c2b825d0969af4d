// The Git credential proxy against a real git-over-https server
// (localcluster/git_server.ts) with the real git client: a clone and a push
// go through the proxy, and the client's side holds no token.
import assert from "assert";
import { join } from "node:path";
import { startGitServer } from "../../../localcluster/git_server.ts";
import { ensureGitCa } from "../../../localcluster/realnode/git_ca.ts";
import { gitProxyHandler } from "../../../gitproxy/proxy.ts";
import { proxyRepositoryUrl } from "../../../gitproxy/routes.ts";

async function run(cwd: string, env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command("git", {
    args,
    cwd,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return {
    ok: out.success,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

Deno.test("git clone and push through the credential proxy; the client holds no token", async () => {
  const server = await startGitServer("127.0.0.1");
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile((await ensureGitCa()).cert)],
  });
  const repo = await server.addRepository("app", { "README.md": "hello\n" });
  const refused: string[] = [];
  const proxy = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => handler(req),
  );
  const listen = `127.0.0.1:${proxy.addr.port}`;
  const handler = gitProxyHandler({
    listen,
    repositories: [repo],
    credentials: () => Promise.resolve({ username: "bot", password: server.token }),
    fetch: ((url: string, init?: RequestInit) => fetch(url, { ...init, client })) as typeof fetch,
    log: (line) => refused.push(line),
  });
  const home = await Deno.makeTempDir({ prefix: "gitproxy-client-" });
  try {
    // What the pod plan sets: only insteadOf, through GIT_CONFIG_* variables.
    const env = {
      HOME: home,
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `url.${proxyRepositoryUrl(proxy.addr.port, 0)}.insteadOf`,
      GIT_CONFIG_VALUE_0: repo,
      GIT_TERMINAL_PROMPT: "0",
      GIT_AUTHOR_NAME: "a",
      GIT_AUTHOR_EMAIL: "a@e",
      GIT_COMMITTER_NAME: "a",
      GIT_COMMITTER_EMAIL: "a@e",
    };
    const work = join(home, "work");
    const clone = await run(home, env, "clone", "-q", repo, work);
    assert.ok(clone.ok, clone.text);
    await Deno.writeTextFile(join(work, "fix.txt"), "fixed\n");
    assert.ok((await run(work, env, "add", ".")).ok);
    assert.ok((await run(work, env, "commit", "-q", "-m", "fix")).ok);
    const push = await run(work, env, "push", "-q", "origin", "HEAD:refs/heads/fix");
    assert.ok(push.ok, push.text);
    // The server has the branch; the client's config and env never had the token.
    const pushed = await server.clone("app", "fix");
    assert.equal(await Deno.readTextFile(join(pushed, "fix.txt")), "fixed\n");
    const config = await run(work, env, "config", "-l");
    assert.ok(!config.text.includes(server.token) && !JSON.stringify(env).includes(server.token));
    // Another repository of the same host is not reachable through the proxy.
    const other = await server.addRepository("other", { "x": "y\n" });
    const sneaky = await run(
      home,
      env,
      "ls-remote",
      `${proxyRepositoryUrl(proxy.addr.port, 0)}/../../other.git`,
    );
    assert.ok(!sneaky.ok, sneaky.text);
    assert.ok(other.endsWith("/other.git"));
    assert.ok(refused.length > 0);
  } finally {
    await proxy.shutdown();
    client.close();
    await server.close();
    await Deno.remove(home, { recursive: true });
  }
});
