import assert from "assert";
import { parseConfig } from "../../controllers/config.ts";

const noEnv = () => undefined;

Deno.test("config: defaults", () => {
  const c = parseConfig([], noEnv);
  assert.deepEqual(c.namespaces, []);
  assert.equal(c.workers, 16);
  // No client-side throttle: the apiserver's Priority and Fairness decides.
  assert.equal(c.qps, 0);
  assert.equal(c.gitImage, "quay.io/kubetask/kubetask-git:1");
  assert.deepEqual(c.gitProxy, {
    image: "quay.io/kubetask/kubetask-controller:v0.1.0",
    command: ["/kubetask"],
  });
  assert.equal(c.leaderElect, true);
  assert.equal(c.metricsAddr, ":8443");
  assert.equal(c.metricsSecure, true, "HTTPS, /metrics authorized by the apiserver");
  assert.equal(c.metricsCertDir, undefined, "a self-signed certificate");
  assert.equal(c.logLevel, "info");
  assert.equal(c.applyCrds, false);
  assert.equal(c.operatorServiceAccount, undefined);
  assert.equal(c.allowPrivilegedAgents, false, "privileged Agents only when asked for");
  assert.equal(c.queueQps, 50);
  assert.equal(c.queueBurst, 500);
});

Deno.test("config: flags, with environment fallbacks", () => {
  const c = parseConfig(
    [
      "--namespaces",
      "a, b",
      "--workers=2",
      "--git-image=mirror.test/git:2",
      "--operator-service-account=kubetask-system/kubetask-controller",
      "--queue-qps=5",
      "--leader-elect=false",
      "--apply-crds",
      "--allow-privileged-agents",
      "--log-level",
      "debug",
      "--metrics-secure=false",
      "--metrics-cert-dir=/certs",
    ],
    (name) => (name === "KUBETASK_METRICS_ADDR" ? "127.0.0.1:9090" : undefined),
  );
  assert.deepEqual(c.namespaces, ["a", "b"]);
  assert.equal(c.workers, 2);
  assert.equal(c.queueQps, 5);
  assert.equal(c.gitImage, "mirror.test/git:2");
  assert.equal(c.operatorServiceAccount, "kubetask-system/kubetask-controller");
  assert.equal(c.leaderElect, false);
  assert.equal(c.applyCrds, true);
  assert.equal(c.allowPrivilegedAgents, true);
  assert.equal(c.logLevel, "debug");
  assert.equal(c.metricsAddr, "127.0.0.1:9090");
  assert.equal(c.metricsSecure, false);
  assert.equal(c.metricsCertDir, "/certs");
});

Deno.test("config: the Git proxy's image and command (a path or a JSON array)", () => {
  const c = parseConfig([
    "--git-proxy-image=mirror.test/kubetask:2",
    '--git-proxy-command=["/usr/local/bin/deno","run","/kubetask.js"]',
  ], noEnv);
  assert.deepEqual(c.gitProxy, {
    image: "mirror.test/kubetask:2",
    command: ["/usr/local/bin/deno", "run", "/kubetask.js"],
  });
  assert.deepEqual(parseConfig(["--git-proxy-command=/bin/kt"], noEnv).gitProxy.command, [
    "/bin/kt",
  ]);
  for (const bad of ["[", "[]", '[""]', "[1]"]) {
    assert.throws(() => parseConfig([`--git-proxy-command=${bad}`], noEnv), /--git-proxy-command/);
  }
});

Deno.test("config: bad values are rejected with the flag's name", () => {
  assert.throws(() => parseConfig(["--workers=zero"], noEnv), /--workers/);
  assert.throws(() => parseConfig(["--log-level=loud"], noEnv), /--log-level/);
  assert.throws(() => parseConfig(["--no-such-flag"], noEnv));
  assert.throws(
    () => parseConfig(["--operator-service-account=kubetask-controller"], noEnv),
    /--operator-service-account must be NAMESPACE\/NAME/,
  );
});

Deno.test("config: --default-egress is Unrestricted unless the platform opts in", () => {
  assert.equal(parseConfig([], noEnv).defaultEgress, "Unrestricted");
  assert.equal(parseConfig(["--default-egress=Restricted"], noEnv).defaultEgress, "Restricted");
  assert.equal(
    parseConfig([], (n) => (n === "KUBETASK_DEFAULT_EGRESS" ? "Restricted" : undefined))
      .defaultEgress,
    "Restricted",
  );
  assert.throws(
    () => parseConfig(["--default-egress=deny"], noEnv),
    /--default-egress must be Unrestricted or Restricted/,
  );
});

Deno.test("config: the Lease's timings, defaults and flags, in order or refused", () => {
  assert.deepEqual(parseConfig([], noEnv).leaderElectionTiming, {
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
  });
  const c = parseConfig(
    ["--leader-election-lease-duration=1m", "--leader-election-renew-deadline=40s"],
    (name) => (name === "KUBETASK_LEADER_ELECTION_RETRY_PERIOD" ? "5s" : undefined),
  );
  assert.deepEqual(c.leaderElectionTiming, {
    leaseDurationMs: 60_000,
    renewDeadlineMs: 40_000,
    retryPeriodMs: 5_000,
  });
  assert.throws(
    () => parseConfig(["--leader-election-lease-duration=15"], noEnv),
    /--leader-election-lease-duration must be a duration such as 15s/,
  );
  assert.throws(
    () => parseConfig(["--leader-election-retry-period=0s"], noEnv),
    /--leader-election-retry-period must be a duration/,
  );
  // A leader that renews for longer than its Lease lasts could lead beside its successor.
  assert.throws(
    () => parseConfig(["--leader-election-renew-deadline=20s"], noEnv),
    /--leader-election-lease-duration \(15s\) must be longer than --leader-election-renew-deadline \(20s\)/,
  );
  assert.throws(
    () => parseConfig(["--leader-election-retry-period=10s"], noEnv),
    /and that longer than --leader-election-retry-period \(10s\)/,
  );
});
