# nora-ts: build with the dev toolchain, ship only runtime dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY bench ./bench
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    NORA_HOST=0.0.0.0 \
    NORA_PORT=4000 \
    NORA_STORAGE_PATH=/data/storage \
    NORA_AUTH_TOKEN_STORAGE=/data/tokens
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s CMD ["node", "dist/src/main/cli.js", "healthcheck"]
CMD ["node", "--max-semi-space-size=2", "dist/src/main/cli.js", "serve"]
