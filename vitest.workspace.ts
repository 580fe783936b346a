import { fileURLToPath } from "node:url"
import { defineWorkspace } from "vitest/config"

const source = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineWorkspace([
  {
    resolve: {
      // Inside the repository `effect-net` is the source, as tsconfig's
      // `paths` says: the tests of the built package install the tarball.
      alias: [
        { find: /^effect-net$/, replacement: source("index.ts") },
        { find: /^effect-net\/(.*)$/, replacement: source("$1.ts") }
      ]
    },
    test: {
      name: "effect-net",
      include: ["test/**/*.test.ts"],
      // Each file runs in its own process so that the handle-leak checks
      // (process.getActiveResourcesInfo) see only that file's sockets.
      pool: "forks",
      isolate: true,
      testTimeout: 30_000,
      hookTimeout: 30_000
    }
  }
])
