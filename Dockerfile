# The infermark image: the CLI as its entrypoint, for the controller's Deployment
# (`infermark controller`) and the benchmark pods it creates (`infermark run ...`).
# Build: docker build -t ghcr.io/infermark/infermark:$(node -p "require('./package.json').version") .

# --- build: compile TypeScript with the dev dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts in the lockfile; --ignore-scripts skips only our own `prepare` (a build without sources).
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
# Everything tsconfig.json compiles (a test in src/ imports bench/); only dist/src ships.
COPY src ./src
COPY bench ./bench
# What package.json's `files` leaves out of a release: tests, test support, browser tests.
RUN npx tsc -p tsconfig.json \
 && find dist/src \( -name '*.test.js' -o -name '*.test.js.map' \) -delete \
 && find dist/src -type d -name testing -prune -exec rm -rf {} + \
 && rm -rf dist/src/e2e

# --- runtime: production dependencies and the compiled CLI, as a non-root user ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
# Read at run time beside dist/: the prompt corpus, the demo job.
COPY data ./data
COPY examples ./examples
# package.json's bin, on the PATH: the pods' commands start with `infermark`.
RUN chmod 0755 /app/dist/src/cli/main.js \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/infermark \
 && groupadd --gid 10001 infermark \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/infermark infermark
# Numeric, so Kubernetes can check runAsNonRoot (src/k8s/manifests.ts IMAGE_UID).
USER 10001:10001
ENTRYPOINT ["infermark"]
CMD ["--help"]
