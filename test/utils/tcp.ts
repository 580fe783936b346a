import { Chunk, Effect, Option, Stream } from "effect"
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
