import { Cause, Effect, Exit, Fiber } from "effect"
import * as Net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as Tcp from "../../src/Tcp.js"
import { openSocketHandles, waitForNoSocketHandles } from "../utils/handles.js"

export { live } from "../utils/live.js"

/**
 * A full garbage collection. The test workers do not run with --expose-gc;
 * the flag can still be turned on at run time, and a fresh V8 context then
 * sees `gc`.
 */
export const collectGarbage: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed !== undefined) return exposed
  V8.setFlagsFromString("--expose-gc")
  return Vm.runInNewContext("gc") as () => void
})()

/** Heap in use after a full collection, in bytes. */
export const settledHeap = (): number => {
  collectGarbage()
  collectGarbage()
  return process.memoryUsage().heapUsed
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/** Prints a figure the suite asserts, so CI logs show the measured values. */
export const report = (test: string, figures: Record<string, unknown>): void => {
  console.log(`[reliability] ${test}: ${JSON.stringify(figures)}`)
}

/** Socket handles still open once the event loop has had a moment to close them. */
export const lingeringHandles = (timeoutMs = 2_000): Effect.Effect<Array<string>> =>
  Effect.promise(() => waitForNoSocketHandles(timeoutMs))

export const tcpHandleCount = (): number => openSocketHandles().filter((handle) => handle.startsWith("TCP")).length

/** No defect and no unexpected interruption hides in `exit`'s cause. */
export const defectsOf = <A, E>(exit: Exit.Exit<A, E>): Array<unknown> =>
  Exit.isSuccess(exit) ? [] : Array.from(Cause.defects(exit.cause))

/** A listener, a client connected to it and the accepted side, closed with the scope. */
export const connectedPair = (options?: Tcp.ListenOptions) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen(options)
    const accepting = yield* Effect.fork(listener.accept)
    const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
    const server = yield* Fiber.join(accepting)
    return { listener, client, server }
  })

/** A raw node:net server (a peer that misbehaves in ways effect-net would not), closed with the scope. */
export const rawServer = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: Net.Server; sockets: Set<Net.Socket> }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        // Connections the test left open must not hold the close.
        for (const socket of sockets) socket.destroy()
      })
  ).pipe(Effect.map(({ server }) => (server.address() as Net.AddressInfo).port))

export { bashProcess } from "../utils/process.js"
