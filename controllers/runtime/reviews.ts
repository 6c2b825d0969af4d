// Asking the apiserver who a bearer token is (TokenReview) and whether that
// user may do something (SubjectAccessReview): the one place for both, used
// by /metrics and by the model gateway (agent tokens, transcript readers).
import type { ApiTransport } from "./transport.ts";

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export type TokenReviewResult =
  | { authenticated: true; user: ReviewedUser; audiences?: string[] }
  | { authenticated: false; error?: string };

/** Who `token` is; with `audiences`, only a token minted for one of them counts. */
export async function reviewToken(
  transport: ApiTransport,
  token: string,
  audiences?: string[],
): Promise<TokenReviewResult> {
  const review = await transport.json<{
    status?: {
      authenticated?: boolean;
      user?: ReviewedUser;
      audiences?: string[];
      error?: string;
    };
  }>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, ...(audiences ? { audiences } : {}) },
    },
  });
  const status = review.status;
  if (!status?.authenticated || !status.user?.username) {
    return { authenticated: false, ...(status?.error ? { error: status.error } : {}) };
  }
  return {
    authenticated: true,
    user: status.user,
    ...(status.audiences ? { audiences: status.audiences } : {}),
  };
}

export type AccessAttributes =
  | { nonResourceAttributes: { path: string; verb: string } }
  | {
    resourceAttributes: {
      namespace?: string;
      verb: string;
      group: string;
      resource: string;
      name?: string;
      subresource?: string;
    };
  };

/** Whether `user` may do what `attributes` describe. */
export async function accessAllowed(
  transport: ApiTransport,
  user: ReviewedUser,
  attributes: AccessAttributes,
): Promise<boolean> {
  const review = await transport.json<{ status?: { allowed?: boolean } }>(
    "POST",
    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    {
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.username,
          uid: user.uid,
          groups: user.groups,
          extra: user.extra,
          ...attributes,
        },
      },
    },
  );
  return review.status?.allowed === true;
}
