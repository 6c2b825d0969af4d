import assert from "assert";
import { gitProxyHandler, secretFolderCredentials } from "../../../gitproxy/proxy.ts";
import { gitProxyMain, parseGitProxyArgs } from "../../../gitproxy/main.ts";

const LISTEN = "127.0.0.1:7070";
const REPO = "https://git.example/org/app.git";

function world(answer: (req: Request) => Response) {
  const seen: Request[] = [];
  const handler = gitProxyHandler({
    listen: LISTEN,
    repositories: [REPO],
    credentials: () => Promise.resolve({ username: "bot", password: "s3cret" }),
    fetch: ((input: string, init?: RequestInit) => {
      const req = new Request(input, init);
      seen.push(req);
      return Promise.resolve(answer(req));
    }) as typeof fetch,
    log: () => {},
  });
  const call = (target: string, init: RequestInit = {}) =>
    handler(
      new Request(`http://${LISTEN}${target}`, {
        ...init,
        headers: { host: LISTEN, ...init.headers },
      }),
    );
  return { seen, call };
}

Deno.test("a push is forwarded with the credentials added and the body streamed", async () => {
  const { seen, call } = world(() =>
    new Response("pack-result", {
      headers: {
        "content-type": "application/x-git-receive-pack-result",
        "www-authenticate": "Basic",
      },
    })
  );
  const res = await call("/0/git-receive-pack", {
    method: "POST",
    body: "PACK-data",
    headers: {
      "content-type": "application/x-git-receive-pack-request",
      authorization: "Basic forged",
    },
  });
  assert.deepStrictEqual(res.status, 200);
  assert.deepStrictEqual(await res.text(), "pack-result");
  assert.deepStrictEqual(res.headers.get("content-type"), "application/x-git-receive-pack-result");
  assert.deepStrictEqual(res.headers.get("www-authenticate"), null);
  assert.deepStrictEqual(seen.length, 1);
  assert.deepStrictEqual(seen[0].url, `${REPO}/git-receive-pack`);
  assert.deepStrictEqual(seen[0].headers.get("authorization"), `Basic ${btoa("bot:s3cret")}`);
  assert.deepStrictEqual(await seen[0].text(), "PACK-data");
});

Deno.test("each repository's credentials come from its own folder; none for a public one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gitproxy-secrets-" });
  try {
    await Deno.mkdir(`${dir}/0`);
    await Deno.writeTextFile(`${dir}/0/password`, "tok-0\n");
    await Deno.mkdir(`${dir}/1`);
    await Deno.writeTextFile(`${dir}/1/username`, "bot");
    await Deno.writeTextFile(`${dir}/1/password`, "tok-1");
    const seen: Request[] = [];
    const repos = [REPO, "https://other.example/lib.git", "https://public.example/p.git"];
    const handler = gitProxyHandler({
      listen: LISTEN,
      repositories: repos,
      credentials: secretFolderCredentials(dir),
      fetch: ((input: string, init?: RequestInit) => {
        seen.push(new Request(input, init));
        return Promise.resolve(new Response("ok"));
      }) as typeof fetch,
      log: () => {},
    });
    for (const i of [0, 1, 2]) {
      await handler(
        new Request(`http://${LISTEN}/${i}/info/refs?service=git-receive-pack`, {
          headers: { host: LISTEN },
        }),
      );
    }
    assert.deepStrictEqual(seen.map((r) => r.headers.get("authorization")), [
      `Basic ${btoa("x-access-token:tok-0")}`,
      `Basic ${btoa("bot:tok-1")}`,
      null,
    ]);
    // A rotated Secret is read at the next request.
    await Deno.writeTextFile(`${dir}/0/password`, "tok-0b");
    assert.deepStrictEqual(await secretFolderCredentials(dir)(0), {
      username: "",
      password: "tok-0b",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the startup probe succeeds only once something listens on the port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = listener.accept().then((c) => c.close());
  assert.deepStrictEqual(await gitProxyMain(["probe", "--port", String(port)]), 0);
  await accepted;
  listener.close();
  assert.deepStrictEqual(await gitProxyMain(["probe", "--port", String(port)]), 1);
});

Deno.test("attack: a redirect from upstream is not followed", async () => {
  const { seen, call } = world(() =>
    new Response(null, { status: 302, headers: { location: "https://evil.example/steal" } })
  );
  const res = await call("/0/info/refs?service=git-upload-pack");
  assert.deepStrictEqual(res.status, 502);
  assert.deepStrictEqual(res.headers.get("location"), null);
  assert.ok((await res.text()).includes("redirects are not followed"));
  assert.deepStrictEqual(seen.length, 1);
});

Deno.test("attack: another path or Host never reaches upstream", async () => {
  const { seen, call } = world(() => new Response("no"));
  assert.deepStrictEqual((await call("/0/objects/info/packs")).status, 404);
  assert.deepStrictEqual((await call("/1/info/refs?service=git-upload-pack")).status, 404);
  const otherHost = await call("/0/info/refs?service=git-upload-pack", {
    headers: { host: "evil.example" },
  });
  assert.deepStrictEqual(otherHost.status, 400);
  assert.deepStrictEqual(seen.length, 0);
});

Deno.test("git-proxy arguments: https repositories without credentials only", () => {
  assert.deepStrictEqual(
    parseGitProxyArgs(["--port", "7070", "--secret-dir", "/s", "--repository", REPO]),
    {
      port: 7070,
      secretDir: "/s",
      repositories: [REPO],
    },
  );
  for (
    const bad of [
      ["--port", "7070", "--secret-dir", "/s", "--repository", "http://git.example/a.git"],
      ["--port", "7070", "--secret-dir", "/s", "--repository", "https://u:p@git.example/a.git"],
      ["--port", "7070", "--secret-dir", "/s", "--repository", "ssh://git@git.example/a.git"],
      ["--port", "0", "--secret-dir", "/s", "--repository", REPO],
      ["--port", "7070", "--secret-dir", "/s"],
    ]
  ) {
    let threw = false;
    try {
      parseGitProxyArgs(bad);
    } catch {
      threw = true;
    }
    assert.ok(threw, bad.join(" "));
  }
});
