// Who may read /metrics: the apiserver decides, as for operators that
// kubebuilder generates. A bearer token is authenticated with a TokenReview,
// then its user is authorized with a SubjectAccessReview for `get` on the
// non-resource URL /metrics (ClusterRole kubetask-metrics-reader grants it).
// Metrics name namespaces, Agents and CronTasks: tenants must not read each
// other's names from them.
//
// Decisions are kept for a few seconds per token, so a scraper costs two
// reviews per window and a flood of requests with one token costs no more.
import type { ApiTransport } from "./transport.ts";
import type { Logger } from "./types.ts";
import { accessAllowed, reviewToken } from "./reviews.ts";

export const METRICS_PATH = "/metrics";

/** 200 may read, 401 unknown (no or bad token), 403 known but not allowed, 500 could not ask. */
export type MetricsDecision = 200 | 401 | 403 | 500;

const DECISION_TTL_MS = 10_000;
const MAX_REMEMBERED = 256;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export class MetricsAuthorizer {
  private readonly remembered = new Map<string, { decision: MetricsDecision; until: number }>();

  constructor(
    private readonly transport: ApiTransport,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The decision for a request's Authorization header. */
  async decide(authorization: string | null): Promise<MetricsDecision> {
    const token = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (!token) return 401;
    const key = await sha256(token);
    const known = this.remembered.get(key);
    if (known && known.until > this.now()) return known.decision;
    const decision = await this.review(token);
    if (decision !== 500) {
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
      this.remembered.set(key, { decision, until: this.now() + DECISION_TTL_MS });
    }
    return decision;
  }

  private async review(token: string): Promise<MetricsDecision> {
    try {
      const who = await reviewToken(this.transport, token);
      if (!who.authenticated) return 401;
      const allowed = await accessAllowed(this.transport, who.user, {
        nonResourceAttributes: { path: METRICS_PATH, verb: "get" },
      });
      return allowed ? 200 : 403;
    } catch (err) {
      this.log.error("cannot review a /metrics request", { error: String(err) });
      return 500;
    }
  }
}
