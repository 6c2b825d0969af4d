// Who this process is, for Lease holders and Event reporting instances.
// Read from the environment (the pod name in-cluster) rather than
// Deno.hostname(), which would need an extra --allow-sys permission.
export function processIdentity(): string {
  return Deno.env.get("POD_NAME") || Deno.env.get("HOSTNAME") || "kubetask-controller";
}
