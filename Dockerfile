# Build: install every dependency, compile the TypeScript, then keep only the production dependencies.
FROM node:24-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

# Run: the compiled code, its production dependencies and the operations page, as the unprivileged `node` user.
FROM node:24-alpine
# HOST: the gateway listens on every address of the container (the code's default is 127.0.0.1).
# HEALTH_FILE: where the node writes the health report the HEALTHCHECK below reads.
ENV NODE_ENV=production \
	HOST=0.0.0.0 \
	HEALTH_FILE=/tmp/moleculer-shop-health.json
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
# Read at run time beside the compiled code: the mail templates (tsc copies no .html or .txt).
COPY --from=build /app/services/notifications/templates ./services/notifications/templates
COPY package.json ./
# NeDB files when no MONGO_URI is given (a single container on the embedded default).
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# The gateway (PORT, on a node that runs api) and the Prometheus metrics (METRICS_PORT, off unless set; docker-compose.yml sets 3030).
EXPOSE 5000 3030
# bin/healthcheck.ts: the node's own health report (started, not stuck, its stores answer, transporter connected) and, on a gateway, GET /api/health.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["node", "dist/bin/healthcheck.js"]
CMD ["node", "dist/bin/runner.js"]
