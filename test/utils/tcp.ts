import { Chunk, Effect, Option, Stream } from "effect"
import { spawn } from "node:child_process"
import type { ReadError } from "../../src/NetError.js"
import type { TcpConnection } from "../../src/Network.js"

const decoder = new TextDecoder()

/** Reads everything until EOF and decodes it as UTF-8. */
export const readAllText = (connection: TcpConnection): Effect.Effect<string, ReadError> =>
  Stream.runCollect(connection.stream).pipe(
    Effect.map((chunks) => Chunk.toReadonlyArray(chunks).map((chunk) => decoder.decode(chunk, { stream: true })).join(""))
  )

/** Reads until `length` bytes have arrived (or EOF) and decodes them. */
export const readText = (connection: TcpConnection, length: number): Effect.Effect<string, ReadError> =>
  Effect.gen(function*() {
    let text = ""
    let received = 0
    while (received < length) {
      const chunk = yield* connection.recv
      if (Option.isNone(chunk)) break
      received += chunk.value.length
      text += decoder.decode(chunk.value)
    }
    return text
  })

export interface PythonProcess {
  /** Lines the program printed so far. */
  readonly lines: Array<string>
  /** Resolves with the first printed line matching `pattern`. */
  readonly waitForLine: (pattern: RegExp) => Effect.Effect<RegExpExecArray>
  /** Resolves with the exit code. */
  readonly exited: Effect.Effect<number | null>
}

/**
 * Runs a Python program from test/fixtures for the life of the scope; it is
 * killed when the scope ends.
 */
export const python = (script: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn("python3", [new URL(`../fixtures/${script}`, import.meta.url).pathname, ...args], {
        stdio: ["pipe", "pipe", "inherit"]
      })
      const lines: Array<string> = []
      const listeners = new Set<() => void>()
      let buffered = ""
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (text: string) => {
        buffered += text
        const parts = buffered.split("\n")
        buffered = parts.pop() ?? ""
        lines.push(...parts)
        listeners.forEach((listener) => listener())
      })
      let exitCode: number | null | undefined
      child.on("exit", (code) => {
        exitCode = code
        listeners.forEach((listener) => listener())
      })
      child.on("error", () => {
        exitCode = null
        listeners.forEach((listener) => listener())
      })
      const waitFor = <A>(check: () => A | undefined): Effect.Effect<A> =>
        Effect.async<A>((resume) => {
          const listener = () => {
            const found = check()
            if (found !== undefined) {
              listeners.delete(listener)
              resume(Effect.succeed(found))
            }
          }
          listeners.add(listener)
          listener()
          return Effect.sync(() => listeners.delete(listener))
        })
      const process: PythonProcess = {
        lines,
        waitForLine: (pattern) =>
          waitFor(() => {
            for (const line of lines) {
              const match = pattern.exec(line)
              if (match !== null) return match
            }
            return undefined
          }),
        exited: waitFor(() => (exitCode === undefined ? undefined : { code: exitCode })).pipe(
          Effect.map(({ code }) => code)
        )
      }
      return { child, process }
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.stdin.end()
        child.kill("SIGKILL")
      })
  ).pipe(Effect.map(({ process }) => process))
