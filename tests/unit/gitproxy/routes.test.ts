import assert from "assert";
import { route } from "../../../gitproxy/routes.ts";

const LISTEN = "127.0.0.1:7070";
const REPOS = ["https://git.example/org/app.git", "https://other.example/team/lib"];
const go = (method: string, target: string, host: string | null = LISTEN) =>
  route(method, target, host, LISTEN, REPOS);

Deno.test("the smart-HTTP requests of a repository go to its own URL", () => {
  assert.deepStrictEqual(go("GET", "/0/info/refs?service=git-upload-pack"), {
    index: 0,
    upstream: "https://git.example/org/app.git/info/refs?service=git-upload-pack",
  });
  assert.deepStrictEqual(go("GET", "/0/info/refs?service=git-receive-pack"), {
    index: 0,
    upstream: "https://git.example/org/app.git/info/refs?service=git-receive-pack",
  });
  assert.deepStrictEqual(go("POST", "/0/git-upload-pack"), {
    index: 0,
    upstream: "https://git.example/org/app.git/git-upload-pack",
  });
  assert.deepStrictEqual(go("POST", "/1/git-receive-pack"), {
    index: 1,
    upstream: "https://other.example/team/lib/git-receive-pack",
  });
});

Deno.test("attack: anything but the allow-list is refused", () => {
  const refused: [string, string, string | null][] = [
    ["GET", "/2/info/refs?service=git-upload-pack", LISTEN], // no such repository
    ["GET", "/0/../1/info/refs?service=git-upload-pack", LISTEN], // dot segments
    ["GET", "/0/..%2f..%2fadmin/info/refs?service=git-upload-pack", LISTEN],
    ["GET", "/0%2Finfo%2Frefs?service=git-upload-pack", LISTEN], // encoded slashes
    ["GET", "/0//info/refs?service=git-upload-pack", LISTEN],
    ["GET", "http://evil.example/0/info/refs?service=git-upload-pack", LISTEN], // absolute-form
    ["GET", "/0/info/refs?service=git-upload-pack", "evil.example"], // another Host
    ["GET", "/0/info/refs?service=git-upload-pack", null],
    ["GET", "/0/info/refs", LISTEN], // the dumb protocol
    ["GET", "/0/info/refs?service=git-upload-pack&x=1", LISTEN],
    ["GET", "/0/info/refs?service=cmd", LISTEN],
    ["GET", "/0/objects/info/packs", LISTEN],
    ["GET", "/0/HEAD", LISTEN],
    ["POST", "/0/git-upload-pack?next=https://evil.example", LISTEN],
    ["GET", "/0/git-receive-pack", LISTEN], // wrong method
    ["POST", "/0/info/refs?service=git-upload-pack", LISTEN],
    ["GET", "/00/info/refs?service=git-upload-pack", LISTEN],
    ["GET", "/-1/info/refs?service=git-upload-pack", LISTEN],
    ["GET", "/", LISTEN],
  ];
  for (const [method, target, host] of refused) {
    const r = go(method, target, host);
    assert.deepStrictEqual(
      "status" in r,
      true,
      `${method} ${target} (Host ${host}) must be refused`,
    );
  }
});
