import { defineWorkspace } from "vitest/config"

export default defineWorkspace([
  {
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
