/** Child process: raw node:net / node:dgram, with nothing of effect loaded. */
import { serveOperations } from "./protocol.js"
import { operations } from "./rawOperations.js"

serveOperations(operations)
