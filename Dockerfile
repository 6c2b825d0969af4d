# KubeTask operator image.
#
# Build stage: the official Deno image at the project's Deno version compiles
# the operator into one self-contained binary (deno task compile grants it only
# --allow-net, --allow-env, --allow-read, --allow-run, the last to run itself
# once to resolve credentials, and --allow-sys=uid, which node:fs needs to find
# the in-cluster token; see controllers/runtime/runtime_flags.ts).
# Final stage: distroless "cc" (glibc + libgcc, which the Deno runtime links
# against) with no shell and no package manager, holding only that binary.
# CRDs are installed by deploy/ (kustomize or Helm), so they are not copied in.

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
# Dependencies first so source edits reuse the cached module layer.
COPY deno.json deno.lock ./
RUN deno install
COPY . .
RUN deno task compile

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/kubetask /kubetask
# Numeric so the kubelet can verify runAsNonRoot (65532 is distroless "nonroot").
USER 65532:65532
EXPOSE 8443
# The same binary is the CLI (kubetask run ...); the image runs the operator by
# default, and the installers name the subcommand first in args (operator, gateway).
ENTRYPOINT ["/kubetask"]
CMD ["operator"]
