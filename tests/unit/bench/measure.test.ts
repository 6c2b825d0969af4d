// The benchmark's own arithmetic: reading /metrics and counting the
// operator's requests in an apiserver audit log.
import assert from "assert";
import { parsePrometheus, sumOf } from "../../bench/e2e/prometheus.ts";
import { auditedRequests } from "../../../localcluster/operator_identity.ts";
import { requestsByKind, restartVerdict } from "../../bench/e2e/bench_cluster.ts";

Deno.test("bench: Prometheus text is read into samples and summed by labels", () => {
  const samples = parsePrometheus([
    "# HELP kubetask_api_requests_total Requests.",
    "# TYPE kubetask_api_requests_total counter",
    'kubetask_api_requests_total{method="GET",code="200"} 12',
    'kubetask_api_requests_total{method="PUT",code="409"} 3',
    'odd{msg="a \\"quoted\\" value"} 1',
    "kubetask_workqueue_depth 0",
  ].join("\n"));
  assert.equal(sumOf(samples, "kubetask_api_requests_total"), 15);
  assert.equal(sumOf(samples, "kubetask_api_requests_total", { code: "409" }), 3);
  assert.equal(sumOf(samples, "kubetask_workqueue_depth"), 0);
  assert.equal(samples.find((s) => s.name === "odd")?.labels.msg, 'a "quoted" value');
});

Deno.test("bench: each audited request counts once; a watch when it starts", () => {
  const line = (stage: string, verb: string, resource: string, sub?: string) =>
    JSON.stringify({
      stage,
      verb,
      objectRef: { resource, subresource: sub },
      responseStatus: { code: 200 },
    });
  const log = [
    line("ResponseComplete", "list", "tasks"),
    line("ResponseStarted", "watch", "tasks"),
    line("ResponseComplete", "watch", "tasks"),
    line("ResponseComplete", "update", "tasks", "status"),
    line("ResponseStarted", "get", "jobs"), // only watches log this stage
    "",
  ].join("\n");
  assert.deepEqual(auditedRequests(log).map((r) => `${r.verb} ${r.resource}`), [
    "list tasks",
    "watch tasks",
    "update tasks/status",
  ]);
});

Deno.test("bench: a restart is one list (in pages) and one watch per kind, or it says what else", () => {
  const entry = (verb: string, uri: string, resource?: string) =>
    JSON.stringify({
      stage: verb === "watch" ? "ResponseStarted" : "ResponseComplete",
      verb,
      requestURI: uri,
      ...(resource ? { objectRef: { resource } } : {}),
      responseStatus: { code: 200 },
    });
  const lists = [
    entry("get", "/apis/kueue.x-k8s.io/v1beta2"),
    entry("list", "/apis/batch/v1/jobs?limit=500", "jobs"),
    entry("list", "/apis/batch/v1/jobs?continue=abc&limit=500", "jobs"),
    entry("watch", "/apis/batch/v1/jobs?watch=true", "jobs"),
  ];
  const requests = auditedRequests(lists.join("\n"));
  assert.deepEqual([...requestsByKind(requests)], [
    ["get /apis/kueue.x-k8s.io/v1beta2", 1],
    ["list jobs", 1],
    ["list jobs (next page)", 1],
    ["watch jobs", 1],
  ]);
  assert.equal(restartVerdict(requestsByKind(requests)), "met");
  const more = auditedRequests(
    [...lists, entry("list", "/apis/batch/v1/jobs", "jobs"), entry("get", "/x", "tasks")].join(
      "\n",
    ),
  );
  assert.equal(restartVerdict(requestsByKind(more)), "missed: list jobs x2, get tasks x1");
});
