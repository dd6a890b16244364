# One Dockerfile for every service; each image holds one service and its production dependencies:
#
#   docker build --build-arg SERVICE=id-generator -t sysdesign/id-generator .
#
# SERVICE is a folder name under services/ (the package is @sysdesign/<SERVICE>).
# No `RUN --mount` cache mounts: the file also builds with the classic builder that Debian's
# docker-compose 1.29 drives. The `pnpm fetch` layer gives the same caching benefit.

FROM node:20-bookworm-slim AS build
RUN npm i -g pnpm@10
WORKDIR /repo

# Downloads depend on the lockfile alone, so this layer survives every source edit and is shared
# by all services (SERVICE is declared further down for that reason).
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch

# Link the whole workspace from the store without the network, then build the service and the
# workspace packages it depends on (the `...` suffix), dependencies first.
COPY . .
RUN pnpm install --offline --frozen-lockfile

ARG SERVICE
RUN test -n "$SERVICE" && test -f "services/$SERVICE/package.json" \
  || { echo "build with --build-arg SERVICE=<a folder under services/>, got '$SERVICE'" >&2; exit 1; }
# --filter-prod follows dependencies, not devDependencies: the image needs platform, not testkit.
RUN pnpm --filter-prod "@sysdesign/${SERVICE}..." run build

# `pnpm deploy` copies the service's "files" (dist, migrations) to /out and installs its production
# dependencies there, with workspace packages copied in (their "files": dist) instead of linked.
# Of pnpm 10's two modes, --legacy looks up the dependencies of the copied-in workspace packages
# in registry metadata again (it fails with --offline). The default mode derives a lockfile for
# /out from pnpm-lock.yaml, so the image gets exactly the locked versions without the network,
# but it requires inject-workspace-packages=true. We set that for this one command: local
# installs keep linking workspace packages, and pnpm-lock.yaml is unchanged.
RUN pnpm --filter "@sysdesign/${SERVICE}" --prod --offline --config.inject-workspace-packages=true \
      deploy /out \
  && test -f /out/dist/main.js


FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/data \
    PGLITE_DIR=/data/pglite \
    BLOB_DIR=/data/blobs
# PORT is not set here: each service defaults to its own port (ARCHITECTURE.md, section 1).
# PGLITE_DIR and BLOB_DIR point into the volume so that a container started without
# DATABASE_URL (embedded mode) never writes inside /app, which the node user cannot write.

WORKDIR /app
RUN mkdir -p /data && chown node:node /data
COPY --from=build /out /app

USER node
VOLUME ["/data"]
CMD ["node", "dist/main.js"]
