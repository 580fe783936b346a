import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { format } from "../../Address.js"
import { FrameError, ReadError } from "../../NetError.js"
import type { TcpConnection } from "../../Tcp.js"
import { optionsProblem } from "./arguments.js"

/**
 * Reading to EOF with `recv` rather than by running `connection.stream`:
 * every Stream run builds a channel executor, forks a fiber and a scope and
 * makes two Deferreds (about 230 µs on the benchmark machine, 1 µs for a
 * `recv` that finds its bytes buffered). For a connection that carries one
 * reply, that run is most of what reading costs.
 */

/** @internal */
export const defaultMaxBytes = 1_048_576

const isLimit = (value: unknown): value is number =>
  value === Infinity || (typeof value === "number" && Number.isSafeInteger(value) && value >= 0)

/** The bytes of `chunks` (`total` of them) as one array: the chunk itself when there is one. */
const joined = (chunks: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0]
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return bytes
}

/** @internal */
export const readToEnd = (
  connection: TcpConnection,
  options: { readonly maxBytes?: number | undefined } | undefined
): Effect.Effect<Uint8Array, ReadError | FrameError> =>
  Effect.suspend(() => {
    const peer = format(connection.remoteAddress)
    const invalid = (message: string) => Effect.fail(new ReadError({ reason: "InvalidArgument", message, address: peer }))
    const problem = optionsProblem(options, "Tcp.readToEnd", true)
    if (problem !== undefined) return invalid(problem)
    const limit = options?.maxBytes ?? defaultMaxBytes
    if (!isLimit(limit)) {
      return invalid(`Tcp.readToEnd: maxBytes ${String(limit)} is not a non-negative integer or Infinity`)
    }
    const chunks: Array<Uint8Array> = []
    let total = 0
    const next: Effect.Effect<Uint8Array, ReadError | FrameError> = Effect.flatMap(connection.recv, (chunk) => {
      if (Option.isNone(chunk)) return Effect.succeed(joined(chunks, total))
      total += chunk.value.length
      if (total > limit) {
        return Effect.fail(
          new FrameError({
            reason: "FrameTooLarge",
            message: `read from ${peer}: more than maxBytes (${limit}) bytes before the end of the stream`
          })
        )
      }
      chunks.push(chunk.value)
      return next
    })
    return next
  })

/**
 * Reads and drops everything until EOF.
 *
 * @internal
 */
export const discardToEnd = (connection: TcpConnection): Effect.Effect<void, ReadError> => {
  const next: Effect.Effect<void, ReadError> = Effect.flatMap(
    connection.recv,
    (chunk) => Option.isNone(chunk) ? Effect.void : next
  )
  return next
}
