import assert from "assert";
import { Metrics } from "../../../controllers/runtime/metrics.ts";

Deno.test("metrics: Prometheus text with cumulative histogram buckets", () => {
  const m = new Metrics();
  m.queueDepth = () => 3;
  m.queueAdds = 7;
  m.observeReconcile("Task", 0.02);
  m.observeReconcile("Task", 2);
  m.reconcileError("Task");
  m.watchRestarted("tasks");
  m.leader = 1;
  const text = m.render();
  assert.match(text, /^kubetask_workqueue_depth 3$/m);
  assert.match(text, /^kubetask_workqueue_adds_total 7$/m);
  assert.match(text, /^kubetask_reconcile_duration_seconds_bucket\{kind="Task",le="0.025"\} 1$/m);
  assert.match(text, /^kubetask_reconcile_duration_seconds_bucket\{kind="Task",le="\+Inf"\} 2$/m);
  assert.match(text, /^kubetask_reconcile_duration_seconds_count\{kind="Task"\} 2$/m);
  assert.match(text, /^kubetask_reconcile_errors_total\{kind="Task"\} 1$/m);
  assert.match(text, /^kubetask_watch_restarts_total\{resource="tasks"\} 1$/m);
  assert.match(text, /^kubetask_leader 1$/m);
});
