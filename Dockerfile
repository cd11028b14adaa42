# Parley: one image for the API and the workers (the compose file picks the command).
# Built on a current Node LTS; the code also runs on Node 20 and 22.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# No install scripts run (npm's default here); tsx runs the TypeScript directly.
RUN npm ci --omit=dev && npm cache clean --force
COPY db ./db
COPY src ./src
COPY workers ./workers
COPY tsconfig.json ./
USER node
EXPOSE 3000
CMD ["node", "--max-semi-space-size=32", "--import", "tsx", "src/server.ts"]
