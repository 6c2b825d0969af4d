// The benchmark's own arithmetic: reading /metrics and counting the
// operator's requests in an apiserver audit log.
import assert from "assert";
import { parsePrometheus, sumOf } from "../../bench/e2e/prometheus.ts";
import { auditedRequests } from "../../../localcluster/operator_identity.ts";

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
