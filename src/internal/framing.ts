import { Buffer, isUtf8 } from "node:buffer"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Framing from "../Framing.js"
import { FrameError } from "../NetError.js"
import { describeValue, isPayload, optionsProblem } from "./shared/arguments.js"

/** @internal */
export const defaultMaxLength = 1_048_576

const LF = 10
const CR = 13

// Past this size a frame buffer is dropped after use instead of being kept
// for the next frame, so an idle connection does not pin a large buffer.
const retainedBufferLimit = 65_536

// The largest block a frame buffer adds for small appends: a large frame is
// assembled from blocks of this size, not in ever larger buffers.
const blockLimit = 65_536

// Pieces of at least this many bytes of a frame of known length are kept as
// views of the input until the frame's buffer is allocated, instead of being
// copied into blocks: a view costs an object, not a copy, and only pieces
// this large keep that object small beside the bytes it holds.
const viewLimit = 4096

const utf8Encoder = new TextEncoder()
// `ignoreBOM` keeps a leading U+FEFF in the text, so that encode/decode round-trip.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * A fresh plain `Uint8Array` of `source[from..to)`. Not `slice`: on a Node
 * `Buffer` (what sockets deliver) `slice` is a view, not a copy.
 */
const copyOf = (source: Uint8Array, from: number, to: number): Uint8Array => {
  const copy = new Uint8Array(to - from)
  copy.set(source.subarray(from, to))
  return copy
}

/**
 * `length` bytes that are not zeroed, as a plain `Uint8Array` over an
 * `ArrayBuffer` of exactly that length (so `frame.buffer` shows nothing
 * else): only for a buffer whose every byte is written before anyone sees it.
 */
const unzeroed = (length: number): Uint8Array => new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length)

/**
 * Up to this many bytes are copied one by one rather than with `set`, whose
 * `subarray` would be an allocation per byte when a peer sends 1-byte chunks.
 */
const byteLoopLimit = 16

const illegal = (message: string): never => {
  throw new Cause.IllegalArgumentException(message)
}

// Constructor arguments are checked up front, with the same error as
// `encode`'s refusals: a bad limit is the program's bug, found when the
// framing is made rather than on the first message.
const checkOptions = (options: unknown, constructor: string): void => {
  const problem = optionsProblem(options, constructor, true)
  if (problem !== undefined) illegal(problem)
}

const checkLimit = (constructor: string, name: string, value: unknown): number =>
  Number.isSafeInteger(value) && (value as number) >= 0
    ? value as number
    : illegal(`${constructor}: ${name} must be a non-negative integer, got ${describeValue(value)}`)

/** A JavaScript caller's message that is not bytes would otherwise be a TypeError, or garbage on the wire. */
const checkBytes = (message: unknown, framing: string): void => {
  if (!(message instanceof Uint8Array)) illegal(`${framing}: the message is ${describeValue(message)}, not a Uint8Array`)
}

const tooLarge = (message: string) => new FrameError({ reason: "FrameTooLarge", message })

/**
 * One decoder run: fed input in order, appends what it decodes to `out` and
 * returns an error to stop. Decoders are plain mutable objects, created per
 * stream run, so that the per-chunk step allocates nothing but the frames.
 */
interface Decoder<I, A> {
  readonly push: (input: I, out: Array<A>) => FrameError | undefined
  readonly end: () => FrameError | undefined
}

/**
 * Runs a decoder over a stream: every chunk of input is decoded in one pure
 * step and everything it yields is written as one chunk. On an error the
 * frames decoded before it are still written, then the stream fails.
 *
 * One channel reading the input, which passes the input's failures on
 * itself: `pipeThroughChannelOrFail` would put two more channels around it
 * to do that, doubling the cost of a read that holds one small message.
 */
const decodeWith = <I, A>(make: () => Decoder<I, A>) =>
<E, R>(input: Stream.Stream<I, E, R>): Stream.Stream<A, E | FrameError, R> =>
  Stream.pipeThroughChannel(
    input,
    Channel.suspend(() => {
      const decoder = make()
      const loop: Channel.Channel<Chunk.Chunk<A>, Chunk.Chunk<I>, E | FrameError, E, unknown, unknown> = Channel
        .readWithCause({
          onInput: (inputs: Chunk.Chunk<I>) => {
            const out: Array<A> = []
            let error: FrameError | undefined
            for (const item of inputs) {
              error = decoder.push(item, out)
              if (error !== undefined) break
            }
            const next = error === undefined ? loop : Channel.fail(error)
            return out.length === 0 ? next : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
          },
          onFailure: Channel.failCause,
          onDone: () => {
            const error = decoder.end()
            return error === undefined ? Channel.void : Channel.fail(error)
          }
        })
      return loop
    })
  )

/** Copies `source[from..from + count)` into `target` at `at`. */
const copyInto = (target: Uint8Array, at: number, source: Uint8Array, from: number, count: number): void => {
  if (count <= byteLoopLimit) {
    for (let i = 0; i < count; i++) target[at + i] = source[from + i]!
  } else {
    target.set(source.subarray(from, from + count), at)
  }
}

/**
 * The bytes of the frame being assembled, in blocks: a full block is never
 * copied again until the frame is complete, when the blocks are joined once
 * (as a hand-written decoder joins its pieces). Blocks grow geometrically up
 * to `blockLimit` (so appending is linear, even one byte at a time, and a
 * large frame is made of blocks of ordinary size rather than ever larger
 * ones), and never past `capacityLimit`, which the decoders keep at their
 * frame limit (`lengthPrefixed`: at the length of the frame, so that a frame
 * that fits one block fills it exactly and is handed over without a copy).
 * Memory follows the bytes that did arrive, not the length a header
 * announces.
 *
 * With `exactLength` (`lengthPrefixed`: the frame is `capacityLimit` long),
 * pieces of `viewLimit` bytes or more are kept as views of the input (bytes
 * that did arrive) until half the frame is there, and the buffer of the
 * whole frame, allocated then, is not zeroed: each of its bytes is written
 * (copied once, from those views or from the input) before the frame,
 * complete, is handed over as that buffer. An unfinished frame is never
 * handed over; the stream ends with it. A view whose producer took its
 * memory back (detached or shrank the `ArrayBuffer` after handing it over,
 * which a stream's elements must not do) makes `set` throw: a defect, never
 * a frame with bytes that were not written.
 */
class FrameBuffer {
  /** Before `current`, oldest first: full blocks, and (`exactLength`) views of the input. */
  private full: Array<Uint8Array> = []
  private current: Uint8Array = new Uint8Array(0)
  private used = 0
  length = 0
  constructor(public capacityLimit: number, private readonly exactLength: boolean) {}

  append(source: Uint8Array, from: number, to: number): void {
    if (this.exactLength && to - from >= viewLimit && 2 * (this.length + to - from) < this.capacityLimit) {
      if (this.used > 0) this.full.push(this.current.subarray(0, this.used))
      this.full.push(source.subarray(from, to))
      this.current = new Uint8Array(0)
      this.used = 0
      this.length += to - from
      return
    }
    while (from < to) {
      if (this.used === this.current.length) this.addBlock(to - from)
      const count = Math.min(to - from, this.current.length - this.used)
      copyInto(this.current, this.used, source, from, count)
      this.used += count
      this.length += count
      from += count
    }
  }

  private addBlock(needed: number): void {
    if (2 * (this.length + needed) >= this.capacityLimit) {
      // Half the limit will have arrived: the whole limit is allocated at
      // once, one block holding everything so far, so the frame needs no join.
      const size = Math.max(this.capacityLimit, this.length + needed)
      this.current = this.copyTo(this.exactLength ? unzeroed(size) : new Uint8Array(size), this.length)
      this.full = []
      this.used = this.length
      return
    }
    if (this.used > 0) this.full.push(this.current)
    const room = this.capacityLimit - this.length
    this.current = new Uint8Array(Math.min(room, Math.max(needed, Math.min(this.length, blockLimit), 256)))
    this.used = 0
  }

  /** The last byte appended (`length` > 0). */
  lastByte(): number {
    // An append that adds a block writes into it: the last byte is always in `current`.
    return this.current[this.used - 1]!
  }

  /** The first `length` bytes, for reading before the next `append`. */
  view(length: number): Uint8Array {
    return this.full.length === 0 ? this.current.subarray(0, length) : this.copyTo(new Uint8Array(length), length)
  }

  /**
   * The first `length` bytes, for the caller to keep; then `clear`s. A frame
   * in one block is that block (or a view of it when the frame fills at
   * least half of it), not a copy.
   */
  take(length: number): Uint8Array {
    if (this.full.length === 0 && 2 * length >= this.current.length) {
      const whole = this.current
      this.current = new Uint8Array(0)
      this.clear()
      return length === whole.length ? whole : whole.subarray(0, length)
    }
    const bytes = this.copyTo(new Uint8Array(length), length)
    this.clear()
    return bytes
  }

  clear(): void {
    this.full = []
    this.used = 0
    this.length = 0
    if (this.current.length > retainedBufferLimit) this.current = new Uint8Array(0)
  }

  /** `target`, with the first `length` bytes copied to its start. */
  private copyTo(target: Uint8Array, length: number): Uint8Array {
    let at = 0
    for (const block of this.full) {
      if (at + block.length >= length) {
        target.set(block.subarray(0, length - at), at)
        return target
      }
      target.set(block, at)
      at += block.length
    }
    target.set(this.current.subarray(0, length - at), at)
    return target
  }
}

/**
 * Where the frames a decoder finds go: cut from the chunk being decoded or
 * assembled in its `FrameBuffer`. One per decoder run.
 */
interface FrameSink<A> {
  /** `chunk` is being decoded: `fromChunk` cuts frames from it until the next `reset`. */
  readonly reset: (chunk: Uint8Array) => void
  /** The frame `chunk[from..to)` of the chunk being decoded, appended to `out`. */
  readonly fromChunk: (from: number, to: number, out: Array<A>) => FrameError | undefined
  /** The frame in the first `length` bytes of `buffer`, appended to `out`; `buffer` is cleared after. */
  readonly fromBuffer: (buffer: FrameBuffer, length: number, out: Array<A>) => FrameError | undefined
}

/**
 * Byte frames cut from one input chunk, as views of a single private copy of
 * the chunk (from the first frame on): one allocation per chunk instead of
 * one per frame, which is what small frames cost most. A frame may keep that
 * copy (at most one chunk) alive; it never shares memory with the input.
 */
class ByteFrames implements FrameSink<Uint8Array> {
  private source: Uint8Array = new Uint8Array(0)
  private copy: Uint8Array | undefined
  private offset = 0

  reset(chunk: Uint8Array): void {
    this.source = chunk
    this.copy = undefined
  }

  fromChunk(from: number, to: number, out: Array<Uint8Array>): undefined {
    if (this.copy === undefined) {
      this.copy = copyOf(this.source, from, this.source.length)
      this.offset = from
    }
    out.push(this.copy.subarray(from - this.offset, to - this.offset))
  }

  fromBuffer(buffer: FrameBuffer, length: number, out: Array<Uint8Array>): undefined {
    out.push(buffer.take(length))
  }
}

/**
 * Lines as text. A line is one `TextDecoder` call in general, but that call
 * costs more than finding and cutting the line: so the complete lines of a
 * chunk are checked as UTF-8 together, once (a `"\n"` cannot be inside a
 * multi-byte character, so they are valid together exactly when each one
 * is), and each is then read with `Buffer`'s unchecked decoder, which gives
 * the same text for valid UTF-8. Each line is its own string: none keeps the
 * chunk alive. When the check fails, the lines are decoded one by one again,
 * so that the bad one is found with the same error as always.
 */
class LineText implements FrameSink<string> {
  private chunk: Uint8Array = new Uint8Array(0)
  private text: Buffer | undefined
  /** Bytes of `chunk` before this index have been checked (`valid` says how that went). */
  private checkedTo = -1
  private valid = false

  reset(chunk: Uint8Array): void {
    this.chunk = chunk
    this.text = undefined
    this.checkedTo = -1
  }

  fromChunk(from: number, to: number, out: Array<string>): FrameError | undefined {
    const chunk = this.chunk
    if (to > this.checkedTo) {
      // Every line from here to the chunk's last "\n" is complete.
      this.checkedTo = chunk.lastIndexOf(LF)
      this.valid = isUtf8(chunk.subarray(from, this.checkedTo))
    }
    if (!this.valid) return decodeLine(chunk.subarray(from, to), out)
    this.text ??= Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    out.push(this.text.toString("utf8", from, to))
    return undefined
  }

  fromBuffer(buffer: FrameBuffer, length: number, out: Array<string>): FrameError | undefined {
    return decodeLine(buffer.view(length), out)
  }
}

/** One line, checked as UTF-8 on its own. */
const decodeLine = (line: Uint8Array, out: Array<string>): FrameError | undefined => {
  try {
    out.push(utf8Decoder.decode(line))
    return undefined
  } catch (cause) {
    const message = `a line of ${line.length} bytes is not valid UTF-8`
    return new FrameError({ reason: "InvalidFrame", message, cause })
  }
}

/**
 * Finds a delimiter in a byte stream fed chunk by chunk, including one split
 * across chunks. Multi-byte delimiters use Knuth–Morris–Pratt, so every byte
 * is looked at once; the first byte is searched with the native `indexOf`.
 */
class DelimiterScanner {
  /** How many bytes at the end of what was scanned so far match a prefix of the delimiter. */
  matched = 0
  private readonly first: number
  private readonly fallback: Int32Array

  constructor(readonly delimiter: Uint8Array) {
    this.first = delimiter[0]!
    this.fallback = new Int32Array(delimiter.length)
    for (let i = 1, k = 0; i < delimiter.length; i++) {
      while (k > 0 && delimiter[i] !== delimiter[k]) k = this.fallback[k - 1]!
      if (delimiter[i] === delimiter[k]) k++
      this.fallback[i] = k
    }
  }

  /** The index just past the next delimiter that ends in `chunk[from..]`, or -1. */
  scan(chunk: Uint8Array, from: number): number {
    const delimiter = this.delimiter
    const size = delimiter.length
    if (size === 1) {
      const index = chunk.indexOf(this.first, from)
      return index < 0 ? -1 : index + 1
    }
    let matched = this.matched
    let i = from
    while (i < chunk.length) {
      if (matched === 0) {
        const index = chunk.indexOf(this.first, i)
        if (index < 0) break
        matched = 1
        i = index + 1
        continue
      }
      const byte = chunk[i++]!
      while (matched > 0 && byte !== delimiter[matched]) matched = this.fallback[matched - 1]!
      if (byte === delimiter[matched]) matched++
      if (matched === size) {
        this.matched = 0
        return i
      }
    }
    this.matched = matched
    return -1
  }
}

interface DelimitedOptions {
  readonly delimiter: Uint8Array
  readonly maxLength: number
  /** Lines: a "\r" before the delimiter (then "\n") is part of it. */
  readonly stripCR: boolean
  readonly describe: string
}

/** The delimiter decoder shared by `lines` and `delimited`, handing its frames to `frames`. */
const delimitedDecoder = <A>(options: DelimitedOptions, frames: FrameSink<A>): Decoder<Uint8Array, A> => {
  const { describe, maxLength, stripCR } = options
  const scanner = new DelimiterScanner(options.delimiter)
  const size = options.delimiter.length
  const crAllowance = stripCR ? 1 : 0
  const buffer = new FrameBuffer(maxLength + size - 1 + crAllowance, false)
  const overLimit = () => tooLarge(`${describe} is longer than the limit of ${maxLength} bytes`)
  return {
    push(chunk, out) {
      frames.reset(chunk)
      let start = 0
      while (start < chunk.length) {
        const end = scanner.scan(chunk, start)
        if (end < 0) {
          // Bytes that may still turn out to be (part of) the delimiter do
          // not count against the limit yet.
          const pending = scanner.matched + (stripCR && chunk[chunk.length - 1] === CR ? 1 : 0)
          if (buffer.length + (chunk.length - start) - pending > maxLength) return overLimit()
          buffer.append(chunk, start, chunk.length)
          return undefined
        }
        // The delimiter may have begun in the bytes buffered before this chunk.
        let frameLength = buffer.length + (end - start) - size
        if (frameLength - crAllowance > maxLength) return overLimit()
        let error: FrameError | undefined
        if (buffer.length === 0) {
          if (stripCR && frameLength > 0 && chunk[start + frameLength - 1] === CR) frameLength--
          if (frameLength > maxLength) return overLimit()
          error = frames.fromChunk(start, start + frameLength, out)
        } else {
          if (frameLength > buffer.length) buffer.append(chunk, start, end - size)
          // With a 1-byte delimiter ("\n" when stripping "\r") the frame is all that is buffered.
          if (stripCR && frameLength > 0 && buffer.lastByte() === CR) frameLength--
          if (frameLength > maxLength) return overLimit()
          error = frames.fromBuffer(buffer, frameLength, out)
          buffer.clear()
        }
        if (error !== undefined) return error
        start = end
      }
      return undefined
    },
    end() {
      return buffer.length === 0 ? undefined : new FrameError({
        reason: "TruncatedFrame",
        message: `the stream ended inside a ${describe}: ${buffer.length} bytes without a delimiter`
      })
    }
  }
}

const encodeUtf8 = (text: string): Uint8Array => utf8Encoder.encode(text)

/** @internal */
export const lines = (options?: Framing.LinesOptions): Framing.Framing<string> => {
  checkOptions(options, "Framing.lines")
  const maxLength = checkLimit("Framing.lines", "maxLength", options?.maxLength ?? defaultMaxLength)
  const decoderOptions: DelimitedOptions = { delimiter: new Uint8Array([LF]), maxLength, stripCR: true, describe: "line" }
  return {
    decode: decodeWith(() => delimitedDecoder(decoderOptions, new LineText())),
    encode(message) {
      if (typeof message !== "string") illegal(`Framing.lines: the message is ${describeValue(message)}, not a string`)
      if (message.includes("\n")) illegal("Framing.lines: a line to encode must not contain \"\\n\"")
      if (message.endsWith("\r")) illegal("Framing.lines: a line to encode must not end with \"\\r\"")
      const bytes = encodeUtf8(message + "\n")
      if (bytes.length - 1 > maxLength) {
        illegal(`Framing.lines: a line of ${bytes.length - 1} bytes is over the maxLength of ${maxLength}`)
      }
      return bytes
    }
  }
}

/** @internal */
export const delimited = (
  delimiter: Uint8Array | string,
  options?: Framing.DelimitedOptions
): Framing.Framing<Uint8Array> => {
  if (!isPayload(delimiter)) {
    illegal(`Framing.delimited: the delimiter is ${describeValue(delimiter)}, not a Uint8Array or a string`)
  }
  const delimiterBytes = typeof delimiter === "string" ? encodeUtf8(delimiter) : copyOf(delimiter, 0, delimiter.length)
  if (delimiterBytes.length === 0) illegal("Framing.delimited: the delimiter must not be empty")
  checkOptions(options, "Framing.delimited")
  const maxLength = checkLimit("Framing.delimited", "maxLength", options?.maxLength ?? defaultMaxLength)
  const decoderOptions: DelimitedOptions = { delimiter: delimiterBytes, maxLength, stripCR: false, describe: "frame" }
  return {
    decode: decodeWith(() => delimitedDecoder(decoderOptions, new ByteFrames())),
    encode(message) {
      checkBytes(message, "Framing.delimited")
      if (message.length > maxLength) {
        illegal(`Framing.delimited: a message of ${message.length} bytes is over the maxLength of ${maxLength}`)
      }
      const bytes = new Uint8Array(message.length + delimiterBytes.length)
      bytes.set(message)
      bytes.set(delimiterBytes, message.length)
      // Decoding must find the delimiter exactly at the end: not inside the
      // message, nor straddling its end (delimiter "aa" after a message "a").
      if (new DelimiterScanner(delimiterBytes).scan(bytes, 0) !== bytes.length) {
        illegal("Framing.delimited: a message to encode must not contain the delimiter")
      }
      return bytes
    }
  }
}

/** @internal */
export const lengthPrefixed = (options?: Framing.LengthPrefixedOptions): Framing.Framing<Uint8Array> => {
  checkOptions(options, "Framing.lengthPrefixed")
  const lengthBytes = options?.lengthBytes ?? 4
  if (lengthBytes !== 1 && lengthBytes !== 2 && lengthBytes !== 4) {
    illegal(`Framing.lengthPrefixed: lengthBytes must be 1, 2 or 4, got ${describeValue(lengthBytes)}`)
  }
  const describable = 2 ** (8 * lengthBytes) - 1
  const maxFrameLength = Math.min(
    describable,
    checkLimit("Framing.lengthPrefixed", "maxFrameLength", options?.maxFrameLength ?? defaultMaxLength)
  )
  const make = (): Decoder<Uint8Array, Uint8Array> => {
    let headerRead = 0
    let frameLength = 0
    const buffer = new FrameBuffer(0, true)
    const frames = new ByteFrames()
    return {
      push(chunk, out) {
        frames.reset(chunk)
        let i = 0
        while (i < chunk.length) {
          if (headerRead < lengthBytes) {
            // Multiplication, not `<<`, so a 4-byte length above 2^31 stays positive.
            if (headerRead === 0 && chunk.length - i >= lengthBytes) {
              // The whole header is in the chunk: read at once.
              for (const headerEnd = i + lengthBytes; i < headerEnd; i++) frameLength = frameLength * 256 + chunk[i]!
              headerRead = lengthBytes
            } else {
              frameLength = frameLength * 256 + chunk[i++]!
              if (++headerRead < lengthBytes) continue
            }
            if (frameLength > maxFrameLength) {
              return tooLarge(`a frame of ${frameLength} bytes is over the maxFrameLength of ${maxFrameLength} bytes`)
            }
            buffer.capacityLimit = frameLength
          }
          // Falls through with a complete header even at the end of the
          // chunk, so that a zero-length frame is emitted at once.
          const missing = frameLength - buffer.length
          const available = chunk.length - i
          if (available < missing) {
            buffer.append(chunk, i, chunk.length)
            return undefined
          }
          if (buffer.length === 0) {
            frames.fromChunk(i, i + missing, out)
          } else {
            buffer.append(chunk, i, i + missing)
            frames.fromBuffer(buffer, frameLength, out)
          }
          i += missing
          headerRead = 0
          frameLength = 0
        }
        return undefined
      },
      end() {
        if (headerRead === 0) return undefined
        return new FrameError({
          reason: "TruncatedFrame",
          message: headerRead < lengthBytes
            ? `the stream ended inside a ${lengthBytes}-byte length header (${headerRead} bytes read)`
            : `the stream ended ${buffer.length} bytes into a frame of ${frameLength} bytes`
        })
      }
    }
  }
  return {
    decode: decodeWith(make),
    encode(message) {
      checkBytes(message, "Framing.lengthPrefixed")
      if (message.length > maxFrameLength) {
        illegal(
          `Framing.lengthPrefixed: a message of ${message.length} bytes is over the maxFrameLength of ${maxFrameLength}`
        )
      }
      const bytes = new Uint8Array(lengthBytes + message.length)
      for (let i = lengthBytes - 1, n = message.length; i >= 0; i--, n = Math.floor(n / 256)) bytes[i] = n % 256
      bytes.set(message, lengthBytes)
      return bytes
    }
  }
}

/** What comparing a value with its JSON found besides a mismatch. */
interface JsonComparison {
  /** A key whose value was `undefined` is missing from the JSON, as JSON drops it. */
  droppedUndefined: boolean
}

/** Where a value and its JSON differ: the path is built only once one is found, on the way out. */
interface JsonMismatch {
  readonly value: unknown
  readonly parsed: unknown
  readonly path: Array<string>
}

/**
 * Where `parsed` (what `JSON.parse` gives back) differs from `value`, the
 * value that was serialized: `undefined` when it does not. A key whose value
 * is `undefined` counts as absent (and is noted in `comparison`), as JSON
 * drops it. JSON has no NaN, Infinity, bigint, Date, Map or class instance:
 * serializing one gives back something else (null, a string, `{}`), and that
 * is what this finds.
 */
const jsonMismatch = (value: unknown, parsed: unknown, comparison: JsonComparison): JsonMismatch | undefined => {
  if (typeof value !== "object" || value === null) return value === parsed ? undefined : { value, parsed, path: [] }
  if (typeof parsed !== "object" || parsed === null) return { value, parsed, path: [] }
  if (Array.isArray(value)) {
    if (!Array.isArray(parsed) || parsed.length !== value.length) return { value, parsed, path: [] }
    // A loop, not `every`: a hole in a sparse array comes back as null.
    for (let index = 0; index < value.length; index++) {
      const mismatch = jsonMismatch(value[index], parsed[index], comparison)
      if (mismatch !== undefined) {
        mismatch.path.unshift(`[${index}]`)
        return mismatch
      }
    }
    return undefined
  }
  const prototype = Object.getPrototypeOf(value)
  if ((prototype !== Object.prototype && prototype !== null) || Array.isArray(parsed)) return { value, parsed, path: [] }
  const record = value as Record<string, unknown>
  const parsedRecord = parsed as Record<string, unknown>
  let kept = 0
  for (const key of Object.keys(record)) {
    const field = record[key]
    if (field === undefined) {
      comparison.droppedUndefined = true
      continue
    }
    kept++
    if (!Object.hasOwn(parsedRecord, key)) return { value, parsed, path: [] }
    const mismatch = jsonMismatch(field, parsedRecord[key], comparison)
    if (mismatch !== undefined) {
      mismatch.path.unshift(`.${key}`)
      return mismatch
    }
  }
  return kept === Object.keys(parsedRecord).length ? undefined : { value, parsed, path: [] }
}

const describeMismatch = ({ parsed, path, value }: JsonMismatch): string =>
  `${describeValue(value)}${path.length === 0 ? "" : ` at ${path.join("")}`} would come back as ${describeValue(parsed)}`

/** @internal */
export const schema = <A, I>(
  schema: Schema.Schema<A, I>,
  framing: Framing.Framing<string> = lines()
): Framing.Framing<A> => {
  if (!Schema.isSchema(schema)) illegal(`Framing.schema: the schema is ${describeValue(schema)}, not a Schema`)
  if (!Predicate.hasProperty(framing, "decode") || !Predicate.hasProperty(framing, "encode") ||
    typeof framing.decode !== "function" || typeof framing.encode !== "function") {
    illegal(`Framing.schema: the framing is ${describeValue(framing)}, not a Framing`)
  }
  const decodeUnknown = Schema.decodeUnknownEither(schema)
  const encodeEither = Schema.encodeEither(schema)
  const parse = (text: string, out: Array<A>): FrameError | undefined => {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause)
      return new FrameError({ reason: "InvalidFrame", message: `a frame is not valid JSON: ${detail}`, cause })
    }
    const decoded = decodeUnknown(json)
    if (Either.isLeft(decoded)) {
      return new FrameError({
        reason: "InvalidFrame",
        message: `a frame does not match the schema: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`,
        cause: decoded.left
      })
    }
    out.push(decoded.right)
    return undefined
  }
  const decodeText = decodeWith((): Decoder<string, A> => ({ push: parse, end: () => undefined }))
  return {
    decode: (bytes) => decodeText(framing.decode(bytes)),
    encode(message) {
      const encoded = encodeEither(message)
      if (Either.isLeft(encoded)) {
        return illegal(
          `Framing.schema: the message cannot be encoded: ${ParseResult.TreeFormatter.formatErrorSync(encoded.left)}`
        )
      }
      const value = encoded.right
      let json: string | undefined
      try {
        json = JSON.stringify(value)
      } catch (cause) {
        // A bigint or a cycle: JSON.stringify throws a TypeError.
        return illegal(
          `Framing.schema: the encoded message is not JSON: ${cause instanceof Error ? cause.message : String(cause)}`
        )
      }
      // JSON.stringify gives undefined for values JSON cannot hold (undefined, functions).
      if (json === undefined) return illegal(`Framing.schema: the encoded message, ${describeValue(value)}, is not JSON`)
      // The decoder must give back this message. When the JSON gives back
      // the encoded value exactly, it decodes to the message (decoding undoes
      // encoding: that is a schema's law), so only a key that JSON dropped,
      // its value being undefined, leaves the schema to say whether decoding
      // accepts the key missing. Decoding every message would cost as much
      // again as encoding it.
      const parsed: unknown = JSON.parse(json)
      const comparison: JsonComparison = { droppedUndefined: false }
      const mismatch = jsonMismatch(value, parsed, comparison)
      if (mismatch !== undefined) {
        illegal(`Framing.schema: the message would not decode back as itself: ${describeMismatch(mismatch)}`)
      }
      if (comparison.droppedUndefined) {
        const decoded = decodeUnknown(parsed)
        if (Either.isLeft(decoded)) {
          illegal(
            `Framing.schema: the message would not decode back as itself: ${
              ParseResult.TreeFormatter.formatErrorSync(decoded.left)
            }`
          )
        }
      }
      return framing.encode(json)
    }
  }
}
