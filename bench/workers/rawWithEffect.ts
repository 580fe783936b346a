/**
 * Child process: the raw operations in a process that has loaded effect and
 * effect-net (and run a program with them), to show what loading effect alone
 * does to node:net (the allocator effect of the issue).
 */
import * as Effect from "effect/Effect"
import { operations as effectNetOperations } from "./effectNetOperations.js"
import { serveOperations } from "./protocol.js"
import { operations } from "./rawOperations.js"

Effect.runSync(Effect.succeed(Object.keys(effectNetOperations).length))
serveOperations(operations)
