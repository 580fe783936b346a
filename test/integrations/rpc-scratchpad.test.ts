/**
 * scratchpad/rpc: the example's server and client, on an ephemeral port,
 * with what the client prints checked.
 */
import { SocketServer } from "@effect/platform/SocketServer"
import { expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CalculatorProtocol, session } from "../../scratchpad/rpc/client.js"
import { CalculatorServer } from "../../scratchpad/rpc/server.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

it.live("the scratchpad's client calls the scratchpad's server: unary, typed error, stream", () =>
  Effect.gen(function*() {
    const { address } = Context.get(yield* Layer.build(CalculatorServer({ port: 0 })), SocketServer)
    const port = address._tag === "TcpAddress" ? address.port : 0
    const lines = yield* session.pipe(Effect.provide(yield* Layer.build(CalculatorProtocol({ port }))))
    expect(lines).toEqual([
      "Hello, newcomer!",
      "7 / 2 = 3.5",
      "1 / 0: DivisionByZero (dividend 1)",
      "countdown 3",
      "countdown 2",
      "countdown 1",
      "countdown 0"
    ])
  }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer), Effect.timeout("20 seconds")))
