/** Child process: @effect/platform-node's NodeSocket / NodeSocketServer. */
import { operations } from "./platformOperations.js"
import { serveOperations } from "./protocol.js"

serveOperations(operations)
