import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type { EventEmitter } from "node:events"
import type { Readable, Writable } from "node:stream"
import { fromPull } from "../shared/pullStream.js"

/**
 * Reading stdin or writing stdout failed (a closed pipe, an I/O error).
 *
 * @internal
 */
export class StdioError extends Schema.TaggedError<StdioError>("effect-net/StdioError")("StdioError", {
  message: Schema.String
}) {}

/**
 * Calls `listener` on each of `events` until it returns `true`, then stops
 * listening; the function returned stops listening early (an interrupted
 * wait).
 */
const listenUntil = (emitter: EventEmitter, events: ReadonlyArray<string>, listener: () => boolean): () => void => {
  const onEvent = () => {
    if (listener()) stop()
  }
  const stop = () => {
    for (const event of events) emitter.off(event, onEvent)
  }
  for (const event of events) emitter.on(event, onEvent)
  return stop
}

/**
 * A readable Node stream as bytes, pulled: nothing is read beyond the
 * stream's own high-water mark until the consumer asks, so a slow socket
 * behind `stdin` slows the producer in front of it. Binary-safe (no
 * encoding is set).
 *
 * @internal
 */
export const fromReadable = (readable: Readable, name: string): Stream.Stream<Uint8Array, StdioError> => {
  let ended = false
  let failure: StdioError | undefined
  // Registered once, for the life of the stream: an 'error' is never unheard.
  readable.on("end", () => {
    ended = true
  })
  readable.on("error", (error) => {
    failure ??= new StdioError({ message: `reading ${name} failed: ${error.message}` })
  })
  const pull: Effect.Effect<Chunk.Chunk<Uint8Array> | undefined, StdioError> = Effect.async((resume) => {
    const attempt = (): boolean => {
      const chunks: Array<Uint8Array> = []
      let chunk: Buffer | null
      while ((chunk = readable.read() as Buffer | null) !== null) chunks.push(chunk)
      if (chunks.length > 0) resume(Effect.succeed(Chunk.unsafeFromArray(chunks)))
      else if (failure !== undefined) resume(Effect.fail(failure))
      else if (ended || readable.readableEnded) resume(Effect.succeed(undefined))
      else return false
      return true
    }
    if (attempt()) return
    return Effect.sync(listenUntil(readable, ["readable", "end", "error"], attempt))
  })
  return fromPull(pull)
}

/**
 * A writable Node stream as a sink: each chunk is written, and a full
 * buffer waits for `'drain'`, so output never queues without limit. Make
 * one per stream and reuse it: each listens for the stream's errors.
 *
 * @internal
 */
export const toWritable = (writable: Writable, name: string): Sink.Sink<void, Uint8Array, never, StdioError> => {
  let failure: StdioError | undefined
  writable.on("error", (error) => {
    failure ??= new StdioError({ message: `writing ${name} failed: ${error.message}` })
  })
  const drained = Effect.async<void, StdioError>((resume) =>
    Effect.sync(listenUntil(writable, ["drain", "error", "close"], () => {
      resume(failure === undefined ? Effect.void : Effect.fail(failure))
      return true
    }))
  )
  const write = (chunk: Uint8Array): Effect.Effect<void, StdioError> =>
    Effect.suspend(() => {
      if (failure !== undefined) return Effect.fail(failure)
      if (writable.destroyed) return Effect.fail(new StdioError({ message: `writing ${name} failed: it is closed` }))
      return writable.write(chunk) ? Effect.void : drained
    })
  return Sink.forEach(write)
}

/**
 * Resolves once everything written to `writable` so far has been handed to
 * the OS, so that exiting the process loses nothing.
 *
 * @internal
 */
export const flush = (writable: Writable): Promise<void> =>
  new Promise((resolve) => {
    if (writable.destroyed || writable.writableEnded) return resolve()
    writable.write("", () => resolve())
  })

/**
 * The process's stdin, made when first asked for: touching `process.stdin`
 * opens it, which a command that never reads it has no reason to do.
 *
 * @internal
 */
export const stdin = (): Stream.Stream<Uint8Array, StdioError> => fromReadable(process.stdin, "stdin")

/** @internal */
export const stdout = (): Sink.Sink<void, Uint8Array, never, StdioError> => toWritable(process.stdout, "stdout")
