import { Cause, Effect, Exit, Fiber, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as Net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import { openSocketHandles, waitForNoSocketHandles } from "../utils/handles.js"

/** Runs a test program on real sockets, in its own scope. */
export const live = <A, E>(effect: Effect.Effect<A, E, any>) =>
  // `any`: the programs need Network and Scope, both provided here.
  effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)) as Effect.Effect<A, E>

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

export interface ChildProcess {
  /** Lines printed on stdout so far. */
  readonly lines: Array<string>
  /** Waits (at most `timeout`) for a stdout line matching `pattern`. */
  readonly waitForLine: (pattern: RegExp, after?: number) => Effect.Effect<RegExpExecArray, Error>
  readonly writeLine: (line: string) => Effect.Effect<void>
  /** What the process printed on stderr, for failure messages. */
  readonly stderr: () => string
}

/** Runs `bash -c script` in the repository root for the life of the scope; it is killed when the scope ends. */
export const bashProcess = (script: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn("bash", ["-c", script], {
        cwd: new URL("../..", import.meta.url).pathname,
        stdio: ["pipe", "pipe", "pipe"]
      })
      const lines: Array<string> = []
      let buffered = ""
      let stderr = ""
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (text: string) => {
        buffered += text
        const parts = buffered.split("\n")
        buffered = parts.pop() ?? ""
        lines.push(...parts)
      })
      child.stderr.setEncoding("utf8")
      child.stderr.on("data", (text: string) => stderr += text)
      child.stdin.on("error", () => {})
      child.on("error", (error) => stderr += String(error))
      const process: ChildProcess = {
        lines,
        waitForLine: (pattern, after = 0) =>
          Effect.suspend(() => {
            for (const line of lines.slice(after)) {
              const match = pattern.exec(line)
              if (match !== null) return Effect.succeed(match)
            }
            return Effect.fail(new Error(`no line matching ${pattern} (stderr: ${stderr.slice(-2000)})`))
          }).pipe(Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("20 seconds")))),
        writeLine: (line) => Effect.sync(() => void child.stdin.write(`${line}\n`)),
        stderr: () => stderr
      }
      return { child, process }
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
  ).pipe(Effect.map(({ process }) => process))
