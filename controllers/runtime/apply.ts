// The one apply layer every reconciler hands its plan to. A plan is pure data
// (what must exist, what goes, the status, the Events, when to look again);
// this file is the only place that turns it into API writes.
//
// Policies, each decided once here:
// - create-or-adopt: objects are created under deterministic names; on
//   AlreadyExists the object is read live and adopted if this primary controls
//   it, else the plan's refusal variant is applied instead. A stale cache
//   therefore never causes a duplicate, only an AlreadyExists.
// - refused creates: a 400, 403 or 422 (invalid object, admission, quota) is
//   not retried forever; the plan's refusal variant says why, in status.
// - owner references: every ensured object gets the primary as its controller.
// - conflicts: a status write carries the observed resourceVersion; a 409 is
//   thrown to the manager, which requeues the key (rate limited) to be
//   observed afresh. Nothing is retried in place.
// - status: written only when it differs from what was observed. (A primary
//   still cached at the version our own last status write replaced is not
//   reconciled at all: the manager checks that before a reconcile starts,
//   own_writes.ts.)
// - untrusted status: a status refused as invalid (422) is written once more
//   without the fields the plan marks as someone else's input (an agent's
//   report), with a condition and a Warning Event quoting the apiserver.
//   Retrying it as is would fail forever and the primary would never move on.
// - Events: recorded after the writes they describe succeeded.
import { isDeepStrictEqual } from "node:util";
import { type Condition, rfc3339, setCondition } from "./conditions.ts";
import { controllerReference, isControlledBy } from "./owners.ts";
import { ApiError } from "./transport.ts";
import {
  AlreadyExistsError,
  type KubeObject,
  NotFoundError,
  type ReconcileContext,
  type ResourceType,
  type Result,
} from "./types.ts";

export interface PlannedEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** An object the primary controls and that must exist. */
export interface Desired {
  type: ResourceType;
  object: KubeObject;
  /** Top-level fields brought up to date when an adopted object differs (e.g. ConfigMap data). */
  syncFields?: string[];
  /** Recorded on the primary when this apply created the object. */
  createdEvent?: PlannedEvent;
}

export interface Deletion {
  type: ResourceType;
  namespace: string;
  name: string;
  /** Precondition: only this incarnation (a re-created namesake is left alone). */
  uid?: string;
  /** Recorded on the primary once the delete was accepted. */
  event?: PlannedEvent;
}

/** A merge patch of an existing object (gone already: nothing to do). */
export interface Patch {
  type: ResourceType;
  namespace: string;
  name: string;
  patch: KubeObject;
}

export interface Plan<Status> {
  /** Created in order; the first name held by someone else stops the rest. */
  ensure: Desired[];
  delete: Deletion[];
  patch?: Patch[];
  /** The whole desired status; undefined leaves it as it is. */
  status?: Status;
  events: PlannedEvent[];
  requeueAfterMs?: number;
  /** Status fields that carry input from outside the operator; see UntrustedStatus. */
  untrustedStatus?: UntrustedStatus;
}

/**
 * Top-level status fields filled from input the operator does not control
 * (an agent's report). If the apiserver refuses the status as invalid, it is
 * written again without them and with this condition (status False, the
 * apiserver's message), and a Warning Event of the same reason is recorded.
 */
export interface UntrustedStatus {
  fields: readonly string[];
  condition: { type: string; reason: string };
}

/** Why an ensured object could not be created. */
export type Refusal =
  /** Its name is held by an object this primary does not control. */
  | { reason: "NameTaken"; type: ResourceType; name: string }
  /** The apiserver refused it (400, 403, 422); `message` is the apiserver's. */
  | { reason: "Rejected"; type: ResourceType; name: string; code: number; message: string };

/** HTTP codes that say the request itself is refused: retrying it unchanged cannot help. */
const REFUSED_CODES = new Set([400, 403, 422]);

/** The reconciled object as observed (from the cache). */
export interface Primary {
  type: ResourceType;
  object: KubeObject;
}

export function emptyPlan<Status>(extra: Partial<Plan<Status>> = {}): Plan<Status> {
  return { ensure: [], delete: [], events: [], ...extra };
}

/** What one applyPlan did, for callers that count what happened (metrics). */
export interface ApplyOutcome<Status> {
  /** The objects this apply created. */
  created: Desired[];
  /** The objects that already existed under this primary's control and were adopted. */
  adopted: Desired[];
  /** The status it wrote, when it wrote one. */
  statusWritten?: Status;
}

/**
 * Applies `plan` for `primary`. `onRefused` gives the plan to apply instead
 * when a create is refused (its status, Events and requeue; it must not
 * ensure anything); `onApplied` hears what was done, also when a
 * write fails part-way (a 409 on the status after a create: the create still
 * happened, and the retry will adopt, not create).
 */
export async function applyPlan<Status>(
  ctx: ReconcileContext,
  primary: Primary,
  plan: Plan<Status>,
  onRefused?: (refusal: Refusal) => Plan<Status>,
  onApplied?: (outcome: ApplyOutcome<Status>) => void,
): Promise<Result> {
  const outcome: ApplyOutcome<Status> = { created: [], adopted: [] };
  try {
    return await apply(ctx, primary, plan, outcome, onRefused);
  } finally {
    onApplied?.(outcome);
  }
}

async function apply<Status>(
  ctx: ReconcileContext,
  primary: Primary,
  plan: Plan<Status>,
  outcome: ApplyOutcome<Status>,
  onRefused?: (refusal: Refusal) => Plan<Status>,
): Promise<Result> {
  for (const d of plan.delete) {
    await ctx.client.delete(d.type, d.namespace, d.name, { uid: d.uid });
    if (d.event) ctx.events.event(primary.object, d.event.type, d.event.reason, d.event.message);
  }
  for (const p of plan.patch ?? []) {
    try {
      await ctx.client.patch(p.type, p.namespace, p.name, p.patch);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  let effective = plan;
  for (const desired of plan.ensure) {
    const { refusal, created } = await createOrAdopt(ctx, primary, desired);
    if (created) outcome.created.push(desired);
    else if (!refusal) outcome.adopted.push(desired);
    if (refusal) {
      if (!onRefused) throw new Error(`${desired.type.kind} "${refusal.name}": ${refusal.reason}`);
      effective = onRefused(refusal);
      break;
    }
  }
  const written = await writeStatus(ctx, primary, effective.status, effective.untrustedStatus);
  outcome.statusWritten = written?.status;
  const rejected = written?.rejected;
  if (rejected) ctx.events.event(primary.object, "Warning", rejected.reason, rejected.message);
  for (const e of effective.events) ctx.events.event(primary.object, e.type, e.reason, e.message);
  return effective.requeueAfterMs === undefined ? {} : { requeueAfterMs: effective.requeueAfterMs };
}

/**
 * Writes the status when it changed; returns what was written, and the
 * Warning to record if its untrusted fields had to go. Unchanged: undefined.
 */
async function writeStatus<Status>(
  ctx: ReconcileContext,
  primary: Primary,
  status: Status | undefined,
  untrusted?: UntrustedStatus,
): Promise<{ status: Status; rejected?: PlannedEvent } | undefined> {
  if (status === undefined || sameJson(primary.object.status ?? {}, status)) return undefined;
  let written = { status, rejected: undefined as PlannedEvent | undefined };
  try {
    // Carries the observed resourceVersion: a stale observation gets a 409.
    await ctx.client.updateStatus(primary.type, { ...primary.object, status });
  } catch (err) {
    const fallback = untrusted && err instanceof ApiError && err.status === 422
      ? withoutUntrusted(status, untrusted, err.detail, primary.object, ctx.now())
      : undefined;
    if (!fallback) throw err;
    // Same resourceVersion: the refused write changed nothing.
    await ctx.client.updateStatus(primary.type, { ...primary.object, status: fallback.status });
    written = { status: fallback.status, rejected: fallback.event };
  }
  return written;
}

/**
 * `status` without the untrusted fields it has, plus the condition saying why;
 * undefined when it has none (then they are not why it was refused).
 */
export function withoutUntrusted<Status>(
  status: Status,
  untrusted: UntrustedStatus,
  detail: string,
  primary: KubeObject,
  now: Date,
): { status: Status; event: PlannedEvent } | undefined {
  const record = status as Record<string, unknown>;
  const dropped = untrusted.fields.filter((f) => record[f] !== undefined);
  if (dropped.length === 0) return undefined;
  const rest = Object.fromEntries(
    Object.entries(record).filter(([k]) => !dropped.includes(k)),
  );
  const message = `${dropped.map((f) => `status.${f}`).join(", ")} not recorded: ` +
    `the apiserver refused the status: ${detail}`;
  const conditions = setCondition(rest.conditions as Condition[] | undefined, {
    type: untrusted.condition.type,
    status: "False",
    reason: untrusted.condition.reason,
    message,
    ...(primary.metadata?.generation !== undefined
      ? { observedGeneration: primary.metadata.generation }
      : {}),
  }, rfc3339(now));
  return {
    status: { ...rest, conditions } as Status,
    event: { type: "Warning", reason: untrusted.condition.reason, message },
  };
}

/** Equal as the apiserver would store them: key order and undefined fields do not count. */
export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(
    JSON.parse(JSON.stringify(a ?? null)),
    JSON.parse(JSON.stringify(b ?? null)),
  );
}

/** Creates `desired`, or adopts the one already there; says which, or why neither. */
async function createOrAdopt(
  ctx: ReconcileContext,
  primary: Primary,
  desired: Desired,
): Promise<{ created: boolean; refusal?: Refusal }> {
  const meta = desired.object.metadata ?? {};
  const object: KubeObject = {
    ...desired.object,
    metadata: { ...meta, ownerReferences: [controllerReference(primary.object, primary.type)] },
  };
  const namespace = meta.namespace ?? "";
  const name = meta.name ?? "";
  try {
    await ctx.client.create(desired.type, object);
    const e = desired.createdEvent;
    if (e) ctx.events.event(primary.object, e.type, e.reason, e.message);
    return { created: true };
  } catch (err) {
    if (err instanceof ApiError && REFUSED_CODES.has(err.status)) {
      const refusal: Refusal = {
        reason: "Rejected",
        type: desired.type,
        name,
        code: err.status,
        message: err.detail,
      };
      return { created: false, refusal };
    }
    if (!(err instanceof AlreadyExistsError)) throw err;
  }
  // Live: the cache may not have seen our own earlier create yet.
  const existing = await ctx.live.get(desired.type, namespace, name);
  if (!existing) throw new Error(`${desired.type.kind} "${name}" vanished while adopting it`);
  if (!isControlledBy(existing, primary.object)) {
    return { created: false, refusal: { reason: "NameTaken", type: desired.type, name } };
  }
  const patch: Record<string, unknown> = {};
  for (const field of desired.syncFields ?? []) {
    if (!sameJson(existing[field], object[field])) {
      patch[field] = withRemovals(existing[field], object[field]);
    }
  }
  // Left over from an attempt that stopped half-way: bring it up to date.
  if (Object.keys(patch).length > 0) await ctx.client.patch(desired.type, namespace, name, patch);
  return { created: false };
}

/** Merge patch of a string map that sets `want` and removes keys only `have` has. */
export function withRemovals(
  have: Record<string, unknown> | undefined,
  want: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...want };
  for (const key of Object.keys(have ?? {})) if (!(key in patch)) patch[key] = null;
  return patch;
}
