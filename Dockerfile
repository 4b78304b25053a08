# syntax=docker/dockerfile:1
# pullguard: built with Node 24, run on a distroless Node 24 image as non-root, with production
# dependencies only and no shell.
#
#   docker build -t pullguard:dev .
#   docker run --rm pullguard:dev --version
#   docker run --rm pullguard:dev serve --help
#
# There is no Docker engine in CI: test/image/dockerfile-rehearsal.test.ts replays these COPY and RUN
# steps in temp dirs and runs the entrypoint, so this file cannot rot unnoticed. Pin the base images by
# digest at release time: --build-arg BUILD_IMAGE=node:24-bookworm-slim@sha256:...

ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused while they do not change.
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` script builds, and the sources are not here yet; no
# dependency needs an install script (esbuild's, under tsx, is a dev-only tool we do not run).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
WORKDIR /app
# Memory (npm run bench:memory runs with these same settings; test/image/dockerfile-rehearsal.test.ts
# keeps them equal): --max-semi-space-size=4, because V8's young generation otherwise grows to
# ~128 MiB while the informers list a large cluster and is never returned; MALLOC_ARENA_MAX and
# MALLOC_TRIM_THRESHOLD_, because glibc otherwise keeps one arena per thread and the freed pages
# of list parsing; and, on the ENTRYPOINT (NODE_OPTIONS refuses it), --heap-growing-percent=20,
# so the old generation grows by 20 % between full GCs instead of doubling while the lists
# arrive. Together: 50,000 pull secrets, 100,000 ServiceAccounts and 10,000 namespaces in
# ~195 MiB RSS with the Kubernetes client loaded.
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-semi-space-size=4" \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=65536
# Owned by root and read-only to the runtime user: the process cannot rewrite its own code.
# package.json is read at run time for --version.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# distroless's `nonroot` user, numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443 9090
# `node dist/cli/main.js`: distroless has node at /nodejs/bin/node and not on PATH.
ENTRYPOINT ["/nodejs/bin/node", "--heap-growing-percent=20", "dist/cli/main.js"]
CMD ["--help"]
