/**
 * Byte stream ⇄ message stream codecs.
 *
 * TCP delivers bytes, not messages: one `send` may arrive as many chunks and
 * many sends as one. A `Framing<A>` turns the bytes of a connection into
 * messages (`decode`) and a message into bytes to send (`encode`):
 *
 * - `lines`: UTF-8 text, one message per line (`"\n"` or `"\r\n"`).
 * - `lengthPrefixed`: a 1, 2 or 4 byte big-endian length, then that many bytes.
 * - `delimited`: bytes up to a (possibly multi-byte) delimiter.
 * - `schema`: typed values as JSON, one per line by default.
 *
 * Every decoder has a size limit, 1 MiB unless said otherwise, so a peer
 * cannot make it buffer without bound. Decoding fails with a `FrameError`:
 * `FrameTooLarge` as soon as a frame crosses its limit (nothing past the
 * limit is buffered), `TruncatedFrame` when the stream ends in the middle of a
 * frame, `InvalidFrame` when a message is not valid UTF-8, JSON, or its
 * schema. Messages decoded before an error are delivered first.
 *
 * Decoding is linear in the bytes received, whatever their chunking: each
 * chunk is scanned once and every message it completes is emitted in one
 * stream chunk, with no effect per message. Byte frames (`lengthPrefixed`,
 * `delimited`) never share memory with the input; frames cut from the same
 * input chunk may be views of one copy of it, so a kept frame may keep up to
 * one chunk alive, and a frame assembled from several chunks may be a view
 * of a buffer up to twice its length. Each line of `lines` is a string of its
 * own. `npx tsx bench/framing.ts` compares decoding with a hand-written
 * decoder.
 *
 * `encode` rejects a message that its own decoder would not give back (over
 * the limit, containing the delimiter, or for `schema` a value whose JSON
 * does not decode back as itself) by throwing an `IllegalArgumentException`,
 * which is a defect inside `Effect.gen`: sending such a message is a bug in
 * the sender, not a condition to handle. The constructors throw the same
 * `IllegalArgumentException` for an argument out of range (a limit that is
 * not a non-negative integer, `lengthBytes` other than 1, 2 or 4, an empty
 * delimiter): one error type for every misuse of a framing.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Framing, Tcp } from "effect-net"
 *
 * const Greeting = Schema.Struct({ name: Schema.String })
 * const framing = Framing.schema(Greeting)
 *
 * const handler = (conn: Tcp.TcpConnection) =>
 *   framing.decode(conn.stream).pipe(
 *     Stream.runForEach((greeting) => conn.send(framing.encode({ name: `hello ${greeting.name}` })))
 *   )
 * ```
 *
 * @since 0.1.0
 */
import type * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/framing.js"
import type { FrameError } from "./NetError.js"

/**
 * A codec between a byte stream and a stream of messages of type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Framing<A> {
  /**
   * Cuts a byte stream into messages. Fails with `FrameError` (after
   * emitting every message before the bad one); errors of the byte stream
   * pass through unchanged. The stream can be run more than once: each run
   * starts with a fresh decoder.
   */
  readonly decode: <E, R>(bytes: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<A, E | FrameError, R>
  /**
   * The bytes of one message, ready for `conn.send`. Throws an
   * `IllegalArgumentException` for a message the decoder would not give
   * back (see each constructor), and for one that is not of the message
   * type at all (a number to `lines`, a JavaScript caller's mistake).
   */
  readonly encode: (message: A) => Uint8Array
}

/**
 * The limit of every decoder unless said otherwise: 1 MiB (1,048,576 bytes).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxLength: number = internal.defaultMaxLength

/**
 * Options of `Framing.lines`.
 *
 * @since 0.1.0
 * @category options
 */
export interface LinesOptions {
  /**
   * The longest line in bytes (UTF-8), not counting its `"\n"` or `"\r\n"`.
   * Default 1 MiB.
   */
  readonly maxLength?: number | undefined
}

/**
 * Options of `Framing.lengthPrefixed`.
 *
 * @since 0.1.0
 * @category options
 */
export interface LengthPrefixedOptions {
  /** The size of the big-endian length field: 1, 2 or 4 bytes. Default 4. */
  readonly lengthBytes?: 1 | 2 | 4 | undefined
  /**
   * The largest payload in bytes, not counting the length field. Default
   * 1 MiB; never more than the length field can describe (255 for 1 byte,
   * 65,535 for 2), a larger value is lowered to that.
   */
  readonly maxFrameLength?: number | undefined
}

/**
 * Options of `Framing.delimited`.
 *
 * @since 0.1.0
 * @category options
 */
export interface DelimitedOptions {
  /** The longest frame in bytes, not counting the delimiter. Default 1 MiB. */
  readonly maxLength?: number | undefined
}

/**
 * UTF-8 text, one message per line. `"\n"` or `"\r\n"` ends a line and is
 * not part of the message; empty lines are empty messages.
 *
 * Decoding fails with `FrameTooLarge` for a line over `maxLength` bytes,
 * `InvalidFrame` for a line that is not valid UTF-8, and `TruncatedFrame`
 * when the stream ends after an unterminated last line: a message is only
 * complete with its newline, and the bytes left over may be half a message.
 * A leading byte-order mark is kept as `"\uFEFF"`.
 *
 * `encode` appends `"\n"`. It throws an `IllegalArgumentException` for a
 * message that contains `"\n"`, ends with `"\r"` (it would read back without
 * it) or is over `maxLength` bytes. Lone surrogates are encoded as U+FFFD,
 * as `TextEncoder` does.
 *
 * `lines` itself throws an `IllegalArgumentException` for a `maxLength` that
 * is not a non-negative integer (-1, NaN, Infinity, 1.5, `"10"`) and for
 * options that are not an object.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Framing, Tcp } from "effect-net"
 *
 * const lines = Framing.lines({ maxLength: 4096 })
 *
 * // A line-based echo handler for Tcp.serve.
 * const handler = (conn: Tcp.TcpConnection) =>
 *   lines.decode(conn.stream).pipe(
 *     Stream.runForEach((line) => conn.send(lines.encode(`you said: ${line}`))),
 *     Effect.catchTag("FrameError", (error) => Effect.logWarning(error.message))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const lines: (options?: LinesOptions) => Framing<string> = internal.lines

/**
 * Frames of bytes, each preceded by its length as a 1, 2 or 4 byte
 * big-endian unsigned integer. Zero-length frames are allowed.
 *
 * Decoding fails with `FrameTooLarge` as soon as a length header over
 * `maxFrameLength` is read (before any of the payload is buffered), and with
 * `TruncatedFrame` when the stream ends inside a header or a payload.
 *
 * `encode` throws an `IllegalArgumentException` for a message over
 * `maxFrameLength`, which is never more than the length field can describe.
 *
 * `lengthPrefixed` itself throws an `IllegalArgumentException` for a
 * `lengthBytes` other than 1, 2 or 4 (3, say), for a `maxFrameLength` that is
 * not a non-negative integer (-1, NaN, Infinity, 1.5; an integer larger than
 * the field can describe is lowered to that) and for options that are not an
 * object.
 *
 * @example
 * ```ts
 * import { Chunk, Effect, Stream } from "effect"
 * import { Framing } from "effect-net"
 *
 * const frames = Framing.lengthPrefixed({ lengthBytes: 2, maxFrameLength: 1024 })
 * const bytes = frames.encode(new Uint8Array([1, 2, 3]))
 *
 * // Whatever the chunking, the same frames come out.
 * const decoded = Stream.make(bytes.subarray(0, 1), bytes.subarray(1)).pipe(
 *   frames.decode,
 *   Stream.runCollect,
 *   Effect.map(Chunk.toReadonlyArray)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const lengthPrefixed: (options?: LengthPrefixedOptions) => Framing<Uint8Array> = internal.lengthPrefixed

/**
 * Frames of bytes, each followed by `delimiter` (a string is taken as UTF-8).
 * The delimiter may be several bytes long and may arrive split across chunks;
 * it is not part of the frame. Two delimiters in a row make an empty frame.
 *
 * Decoding fails with `FrameTooLarge` once more than `maxLength` bytes have
 * arrived without a delimiter, and with `TruncatedFrame` when the stream ends
 * after bytes that no delimiter ended.
 *
 * `encode` appends the delimiter. It throws an `IllegalArgumentException`
 * for a message over `maxLength` or one that would not read back as itself:
 * a message containing the delimiter, or whose end together with the
 * delimiter contains an earlier delimiter (delimiter `"aa"`, message `"a"`).
 *
 * `delimited` itself throws an `IllegalArgumentException` for an empty
 * delimiter, one that is neither a `Uint8Array` nor a string, a `maxLength`
 * that is not a non-negative integer (-1, NaN, Infinity, 1.5) and options
 * that are not an object.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Framing } from "effect-net"
 *
 * const records = Framing.delimited("\r\n\r\n", { maxLength: 64 * 1024 })
 * const count = Stream.make(records.encode(new TextEncoder().encode("a")), records.encode(new Uint8Array())).pipe(
 *   records.decode,
 *   Stream.runCount
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const delimited: (delimiter: Uint8Array | string, options?: DelimitedOptions) => Framing<Uint8Array> =
  internal.delimited

/**
 * Typed messages: each frame of `framing` (default `lines()`, so one JSON
 * document per line with a 1 MiB limit) is parsed as JSON and decoded with
 * `schema`; `encode` encodes with `schema` and serializes as JSON.
 *
 * A frame that is not JSON or does not match the schema fails the stream
 * with `InvalidFrame`, carrying the `SyntaxError` or the `ParseError` as its
 * `cause` and the formatted issue in its `message`. The schema must be
 * synchronous.
 *
 * `encode` checks the round trip, so that what it writes decodes back as the
 * message: it throws an `IllegalArgumentException` for a value the schema
 * cannot encode (the message is the formatted parse issue), for one whose
 * JSON would come back as something else — NaN or ±Infinity (JSON writes
 * `null`), a `Date`, `Map` or class instance where the encoded side is not
 * plain JSON (`Schema.DateFromSelf`, `Schema.Unknown` holding one), a hole or
 * `undefined` in an array — for one JSON cannot write at all (a bigint, as
 * `Schema.BigIntFromSelf` encodes it; a cycle; `undefined`), and for one that
 * the schema would not decode. A key whose value is `undefined` is left out,
 * as JSON does, and `-0` is written as `0`. `schema` itself throws one for a
 * `schema` that is not a Schema or a `framing` that is not a Framing.
 *
 * @example
 * ```ts
 * import { Schema, Stream } from "effect"
 * import { Framing, Tcp } from "effect-net"
 *
 * class Greeting extends Schema.Class<Greeting>("Greeting")({ name: Schema.String }) {}
 * const greetings = Framing.schema(Greeting)
 *
 * const handler = (conn: Tcp.TcpConnection) =>
 *   greetings.decode(conn.stream).pipe(
 *     Stream.runForEach((greeting) => conn.send(greetings.encode(new Greeting({ name: greeting.name.toUpperCase() }))))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const schema: <A, I>(schema: Schema.Schema<A, I>, framing?: Framing<string>) => Framing<A> = internal.schema
