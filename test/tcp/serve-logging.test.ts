/**
 * `Tcp.serve` logs a failing handler (at Error, with the peer's address and
 * the whole cause) and goes on serving; a handler that ends normally, or is
 * interrupted at shutdown, is not logged. On both networks.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Network, NodeNetwork, Tcp, TestNetwork } from "effect-net"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

class HandlerRefused extends Schema.TaggedError<HandlerRefused>()("HandlerRefused", { line: Schema.String }) {}

interface Logged {
  readonly level: string
  readonly message: unknown
  readonly cause: Cause.Cause<unknown>
  readonly remoteAddress: Option.Option<unknown>
}

const networks = {
  NodeNetwork: { layer: NodeNetwork.layer as Layer.Layer<Network.Network>, host: "127.0.0.1", client: undefined },
  TestNetwork: { layer: TestNetwork.layer({ seed: 3 }) as Layer.Layer<Network.Network>, host: "127.0.0.2", client: "127.0.0.3" }
} as const

const text = (bytes: Option.Option<Uint8Array>) => Option.map(bytes, (chunk) => new TextDecoder().decode(chunk))

for (const [name, network] of Object.entries(networks)) {
  describe(`Tcp.serve on ${name}`, () => {
    it.live("logs a failing or dying handler with the peer's address and cause, and goes on serving", () =>
      Effect.gen(function*() {
        const logged: Array<Logged> = []
        const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
          logged.push({
            level: logLevel.label,
            message: Array.isArray(message) ? message[0] : message,
            cause,
            remoteAddress: HashMap.get(annotations, "remoteAddress")
          })
        })
        const listener = yield* Tcp.listen({ host: network.host })
        const server = yield* Effect.forkScoped(
          Tcp.serve(listener, (conn) =>
            Effect.gen(function*() {
              const line = Option.getOrElse(text(yield* conn.recv), () => "")
              if (line === "fail") return yield* new HandlerRefused({ line })
              if (line === "die") return yield* Effect.die(new Error("handler bug"))
              yield* conn.send(`ok ${line}`)
            })).pipe(
              Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
              Logger.withMinimumLogLevel(LogLevel.All)
            )
        )
        const ask = (line: string) =>
          Effect.scoped(Effect.gen(function*() {
            const conn = yield* Tcp.connect({
              host: network.host,
              port: listener.address.port,
              ...(network.client === undefined ? {} : { localAddress: network.client })
            })
            yield* conn.send(line)
            return { reply: text(yield* conn.recv), local: conn.localAddress }
          }))
        const failed = yield* ask("fail")
        const died = yield* ask("die")
        const served = yield* ask("hello")
        expect(failed.reply).toEqual(Option.none())
        expect(died.reply).toEqual(Option.none())
        expect(served.reply).toEqual(Option.some("ok hello"))
        yield* Fiber.interrupt(server)

        const errors = logged.filter((entry) => entry.level === "ERROR")
        expect(errors.map((entry) => entry.message)).toEqual([
          "effect-net: connection handler failed",
          "effect-net: connection handler failed"
        ])
        expect(Cause.failureOption(errors[0].cause)).toEqual(Option.some(new HandlerRefused({ line: "fail" })))
        expect(Cause.dieOption(errors[1].cause).pipe(Option.map((defect) => (defect as Error).message)))
          .toEqual(Option.some("handler bug"))
        const peer = (local: { readonly host: string; readonly port: number }) =>
          Option.some(local.host.includes(":") ? `[${local.host}]:${local.port}` : `${local.host}:${local.port}`)
        expect(errors[0].remoteAddress).toEqual(peer(failed.local))
        expect(errors[1].remoteAddress).toEqual(peer(died.local))
        expect(logged.filter((entry) => entry.level !== "ERROR" && entry.level !== "DEBUG" && entry.level !== "TRACE"))
          .toEqual([])
      }).pipe(Effect.scoped, Effect.provide(network.layer), Effect.timeout("20 seconds")))

    it.live("does not log handlers that are interrupted when serve shuts down", () =>
      Effect.gen(function*() {
        const logged: Array<string> = []
        const logger = Logger.make(({ logLevel }) => {
          logged.push(logLevel.label)
        })
        const listener = yield* Tcp.listen({ host: network.host })
        const server = yield* Effect.forkScoped(
          Tcp.serve(listener, (conn) => Effect.zipRight(conn.recv, Effect.never), { shutdownTimeout: "10 millis" }).pipe(
            Effect.provide(Logger.replace(Logger.defaultLogger, logger))
          )
        )
        const conn = yield* Tcp.connect({
          host: network.host,
          port: listener.address.port,
          ...(network.client === undefined ? {} : { localAddress: network.client })
        })
        yield* conn.send("wait")
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(server)
        expect(yield* conn.recv).toEqual(Option.none())
        expect(logged).toEqual([])
      }).pipe(Effect.scoped, Effect.provide(network.layer), Effect.timeout("20 seconds")))
  })
}
