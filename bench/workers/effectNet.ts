/** Child process: effect-net. */
import { operations } from "./effectNetOperations.js"
import { serveOperations } from "./protocol.js"

serveOperations(operations)
