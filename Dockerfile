# Incoming compiles its TypeScript sources with esbuild (a runtime dependency) when it starts from a changed checkout;
# the image compiles them once here, into /app/.build, which the unprivileged user at run time need not write.
FROM node:24-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, for layer caching. esbuild (and tsx, the fallback) are in "dependencies": a production-only
# install is enough.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# What runs: the launcher, the sources, migrations, the SDL/operations, and tsconfig.json (the compiler reads its
# experimentalDecorators / useDefineForClassFields settings, which type-graphql's decorators need).
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY schema ./schema
RUN node bin/incoming.js build

# DATA_DIR holds the generated secret.key (and the embedded PostgreSQL when DATABASE_URL is unset).
RUN mkdir -p /data && chown node:node /data
ENV DATA_DIR=/data HOST=0.0.0.0 PORT=4000

USER node
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/incoming.js", "serve"]
