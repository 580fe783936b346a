import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Either, Exit, FastCheck as fc, Option, ParseResult, Schema, Stream } from "effect"
import * as Framing from "../../src/Framing.js"
import { FrameError } from "../../src/NetError.js"
import { concatBytes } from "../utils/bytes.js"

const utf8 = new TextEncoder()
const bytes = (text: string): Uint8Array => utf8.encode(text)

/** Cuts `data` into pieces whose sizes cycle through `sizes` (each at least 1). */
const cut = (data: Uint8Array, sizes: ReadonlyArray<number>): Array<Uint8Array> => {
  if (sizes.length === 0) return [data]
  const pieces: Array<Uint8Array> = []
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!
    pieces.push(data.subarray(offset, offset + size))
    offset += size
  }
  return pieces
}

/** A stream of `pieces`, `perChunk` of them in each stream chunk. */
const streamOf = (pieces: ReadonlyArray<Uint8Array>, perChunk = 1): Stream.Stream<Uint8Array> =>
  Stream.fromIterable(pieces).pipe(Stream.rechunk(perChunk))

type Outcome<A> = { readonly messages: ReadonlyArray<A>; readonly error?: FrameError["reason"] }

/** Every message decoded and, when decoding failed, the reason. */
const outcome = <A>(stream: Stream.Stream<A, FrameError>): Effect.Effect<Outcome<A>> =>
  Effect.gen(function*() {
    const messages: Array<A> = []
    const result = yield* stream.pipe(
      Stream.runForEach((message) => Effect.sync(() => messages.push(message))),
      Effect.either
    )
    return Either.isLeft(result) ? { messages, error: result.left.reason } : { messages }
  })

const decodeAll = <A>(framing: Framing.Framing<A>, pieces: ReadonlyArray<Uint8Array>, perChunk = 1) =>
  outcome(framing.decode(streamOf(pieces, perChunk)))

const frameError = <A>(framing: Framing.Framing<A>, pieces: ReadonlyArray<Uint8Array>) =>
  framing.decode(streamOf(pieces)).pipe(Stream.runDrain, Effect.flip)

const sizes = fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 6 })
const perChunk = fc.integer({ min: 1, max: 4 })
const propOptions = { fastCheck: { numRuns: 150 } }

// Reference decoders: naive, over the whole input at once. The streaming
// decoders must agree with them for every way of cutting the input.

const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const referenceLines = (data: Uint8Array, maxLength: number): Outcome<string> => {
  const messages: Array<string> = []
  let start = 0
  for (let end = data.indexOf(10); end >= 0; start = end + 1, end = data.indexOf(10, start)) {
    let line = data.subarray(start, end)
    if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1)
    if (line.length > maxLength) return { messages, error: "FrameTooLarge" }
    try {
      messages.push(utf8Fatal.decode(line))
    } catch {
      return { messages, error: "InvalidFrame" }
    }
  }
  const rest = data.length - start
  if (rest === 0) return { messages }
  const maybeCR = data[data.length - 1] === 13 ? 1 : 0
  return { messages, error: rest - maybeCR > maxLength ? "FrameTooLarge" : "TruncatedFrame" }
}

const startsWithAt = (data: Uint8Array, at: number, prefix: Uint8Array, length: number): boolean => {
  for (let i = 0; i < length; i++) if (data[at + i] !== prefix[i]) return false
  return true
}

const referenceDelimited = (data: Uint8Array, delimiter: Uint8Array, maxLength: number): Outcome<Uint8Array> => {
  const messages: Array<Uint8Array> = []
  let start = 0
  for (let at = 0; at + delimiter.length <= data.length;) {
    if (startsWithAt(data, at, delimiter, delimiter.length)) {
      if (at - start > maxLength) return { messages, error: "FrameTooLarge" }
      messages.push(data.slice(start, at))
      start = at = at + delimiter.length
    } else {
      at++
    }
  }
  const rest = data.length - start
  if (rest === 0) return { messages }
  // The longest end of the input that may still begin a delimiter is not counted.
  let partial = Math.min(delimiter.length - 1, rest)
  while (partial > 0 && !startsWithAt(data, data.length - partial, delimiter, partial)) partial--
  return { messages, error: rest - partial > maxLength ? "FrameTooLarge" : "TruncatedFrame" }
}

const referenceLengthPrefixed = (data: Uint8Array, lengthBytes: number, maxLength: number): Outcome<Uint8Array> => {
  const messages: Array<Uint8Array> = []
  let at = 0
  while (at < data.length) {
    if (at + lengthBytes > data.length) return { messages, error: "TruncatedFrame" }
    let length = 0
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + data[at + i]!
    at += lengthBytes
    if (length > maxLength) return { messages, error: "FrameTooLarge" }
    if (at + length > data.length) return { messages, error: "TruncatedFrame" }
    messages.push(data.slice(at, at + length))
    at += length
  }
  return { messages }
}

const lineText = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: fc.constantFrom("a", "é", "€", "😀", "\r", " ", "\uFEFF"), maxLength: 20 })
).filter((line) => !line.includes("\n") && !line.endsWith("\r"))

describe("Framing round trip (property)", () => {
  it.effect.prop(
    "lines: decode(encode(messages)) == messages for any chunking",
    { messages: fc.array(lineText, { maxLength: 20 }), sizes, perChunk },
    ({ messages, perChunk, sizes }) =>
      Effect.gen(function*() {
        const framing = Framing.lines()
        const encoded = concatBytes(messages.map(framing.encode))
        expect(yield* decodeAll(framing, cut(encoded, sizes), perChunk)).toEqual({ messages })
      }),
    propOptions
  )

  it.effect.prop(
    "lengthPrefixed: decode(encode(messages)) == messages for any chunking and length field",
    {
      lengthBytes: fc.constantFrom(1 as const, 2 as const, 4 as const),
      messages: fc.array(fc.uint8Array({ maxLength: 255 }), { maxLength: 20 }),
      sizes,
      perChunk
    },
    ({ lengthBytes, messages, perChunk, sizes }) =>
      Effect.gen(function*() {
        const framing = Framing.lengthPrefixed({ lengthBytes })
        const encoded = concatBytes(messages.map(framing.encode))
        expect(yield* decodeAll(framing, cut(encoded, sizes), perChunk)).toEqual({ messages })
      }),
    propOptions
  )

  it.effect.prop(
    "delimited: decode(encode(messages)) == messages for any chunking and delimiter",
    {
      // A 3-letter alphabet makes delimiters and near-misses common.
      delimiter: fc.uint8Array({ min: 0, max: 2, minLength: 1, maxLength: 4 }),
      messages: fc.array(fc.uint8Array({ min: 0, max: 2, maxLength: 12 }), { maxLength: 20 }),
      sizes,
      perChunk
    },
    ({ delimiter, messages, perChunk, sizes }) =>
      Effect.gen(function*() {
        const framing = Framing.delimited(delimiter)
        const encodable = messages.flatMap((message) => {
          try {
            return [{ message, encoded: framing.encode(message) }]
          } catch {
            return []
          }
        })
        const encoded = concatBytes(encodable.map(({ encoded }) => encoded))
        expect(yield* decodeAll(framing, cut(encoded, sizes), perChunk)).toEqual({
          messages: encodable.map(({ message }) => message)
        })
      }),
    propOptions
  )

  const Message = Schema.Struct({
    id: Schema.Int,
    text: Schema.String,
    tags: Schema.Array(Schema.Literal("a", "b")),
    score: Schema.optional(Schema.NumberFromString.pipe(Schema.int()))
  })

  it.effect.prop(
    "schema: decode(encode(messages)) == messages for any chunking",
    { values: Schema.Array(Message), sizes },
    ({ sizes, values }) =>
      Effect.gen(function*() {
        const framing = Framing.schema(Message)
        const encoded = concatBytes(values.map(framing.encode))
        expect(yield* decodeAll(framing, cut(encoded, sizes))).toEqual({ messages: values })
      }),
    propOptions
  )
})

describe("Framing on arbitrary bytes (property)", () => {
  // Small alphabets so that delimiters, CRs and UTF-8 sequences (valid and
  // not) turn up often.
  const lineBytes = fc.uint8Array({ maxLength: 80 }).map((raw) =>
    raw.map((byte) => [0x61, 0x0a, 0x0d, 0xc3, 0xa9, 0xff, 0x62, 0x0a][byte % 8]!)
  )

  it.effect.prop(
    "lines: any bytes give the reference outcome, never a defect",
    { data: lineBytes, maxLength: fc.integer({ min: 0, max: 12 }), sizes, perChunk },
    ({ data, maxLength, perChunk, sizes }) =>
      Effect.gen(function*() {
        const result = yield* decodeAll(Framing.lines({ maxLength }), cut(data, sizes), perChunk)
        expect(result).toEqual(referenceLines(data, maxLength))
        for (const message of result.messages) expect(bytes(message).length).toBeLessThanOrEqual(maxLength)
      }),
    propOptions
  )

  it.effect.prop(
    "delimited: any bytes give the reference outcome, never a defect",
    {
      // Mostly two letters: delimiters overlapping themselves (0 0 1, 0 1 0 1)
      // and near-misses of them are then common.
      data: fc.uint8Array({ maxLength: 80 }).map((raw) => raw.map((byte) => [0, 1, 0, 1, 2][byte % 5]!)),
      delimiter: fc.uint8Array({ min: 0, max: 1, minLength: 1, maxLength: 4 }),
      maxLength: fc.integer({ min: 0, max: 40 }),
      sizes,
      perChunk
    },
    ({ data, delimiter, maxLength, perChunk, sizes }) =>
      Effect.gen(function*() {
        const result = yield* decodeAll(Framing.delimited(delimiter, { maxLength }), cut(data, sizes), perChunk)
        expect(result).toEqual(referenceDelimited(data, delimiter, maxLength))
        for (const message of result.messages) expect(message.length).toBeLessThanOrEqual(maxLength)
      }),
    propOptions
  )

  it.effect.prop(
    "lengthPrefixed: any bytes give the reference outcome, never a defect",
    {
      data: fc.uint8Array({ maxLength: 80 }).map((raw) => raw.map((byte) => byte % 16)),
      lengthBytes: fc.constantFrom(1 as const, 2 as const, 4 as const),
      maxFrameLength: fc.integer({ min: 0, max: 12 }),
      sizes,
      perChunk
    },
    ({ data, lengthBytes, maxFrameLength, perChunk, sizes }) =>
      Effect.gen(function*() {
        const framing = Framing.lengthPrefixed({ lengthBytes, maxFrameLength })
        const result = yield* decodeAll(framing, cut(data, sizes), perChunk)
        expect(result).toEqual(referenceLengthPrefixed(data, lengthBytes, maxFrameLength))
        for (const message of result.messages) expect(message.length).toBeLessThanOrEqual(maxFrameLength)
      }),
    propOptions
  )

  it.effect.prop(
    "schema: any bytes give messages or a FrameError, never a defect",
    {
      data: fc.uint8Array({ maxLength: 60 }).map((raw) => raw.map((byte) => bytes("{}[]\":1a,\n ")[byte % 11]!)),
      sizes
    },
    ({ data, sizes }) =>
      Effect.gen(function*() {
        const framing = Framing.schema(Schema.Struct({ a: Schema.Number }), Framing.lines({ maxLength: 16 }))
        const exit = yield* Effect.exit(Stream.runCollect(framing.decode(streamOf(cut(data, sizes)))))
        if (Exit.isFailure(exit)) {
          expect(Cause.isFailType(exit.cause) && exit.cause.error instanceof FrameError).toBe(true)
        } else {
          for (const message of exit.value) expect(typeof message.a).toBe("number")
        }
      }),
    propOptions
  )
})

describe("Framing decode does not depend on chunking (property)", () => {
  // Inputs of up to a few KiB, cut into pieces of 1 to 400 bytes: frames
  // span pieces and fill several of the decoders' buffer blocks, and pieces
  // hold many frames, as a busy socket's reads do.
  const anySizes = fc.array(
    fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 2 },
      { arbitrary: fc.integer({ min: 1, max: 64 }), weight: 2 },
      { arbitrary: fc.integer({ min: 1, max: 400 }), weight: 1 }
    ),
    { maxLength: 8 }
  )
  /** Up to `max` bytes, their length drawn evenly (`uint8Array` favours short arrays). */
  const sized = (max: number) =>
    fc.tuple(fc.nat({ max }), fc.nat({ max: 255 })).map(([length, seed]) =>
      Uint8Array.from({ length }, (_, i) => (seed + 31 * i) % 256)
    )

  type FullOutcome<A> = {
    readonly messages: ReadonlyArray<A>
    readonly error?: { readonly reason: FrameError["reason"]; readonly message: string; readonly cause: unknown }
  }

  /** Every message, and the whole error: reason, message, and the kind of its cause. */
  const fullOutcome = <A>(framing: Framing.Framing<A>, pieces: ReadonlyArray<Uint8Array>, perChunk: number) =>
    Effect.gen(function*() {
      const messages: Array<A> = []
      const result = yield* framing.decode(streamOf(pieces, perChunk)).pipe(
        Stream.runForEachChunk((chunk) => Effect.sync(() => messages.push(...chunk))),
        Effect.either
      )
      if (Either.isRight(result)) return { messages } as FullOutcome<A>
      const { cause, message, reason } = result.left
      return { messages, error: { reason, message, cause: cause?.constructor } } as FullOutcome<A>
    })

  const expectSameAsOneChunk = <A>(
    framing: Framing.Framing<A>,
    data: Uint8Array,
    sizes: ReadonlyArray<number>,
    perChunk: number
  ) =>
    Effect.gen(function*() {
      const whole = yield* fullOutcome(framing, [data], 1)
      expect(yield* fullOutcome(framing, cut(data, sizes), perChunk)).toEqual(whole)
      return whole
    })

  // Bytes that make valid and invalid UTF-8 of every length: ASCII, lead
  // bytes of 2, 3 and 4 byte sequences, continuations, a BOM's, overlong and
  // surrogate starts, bytes never valid.
  const utf8Alphabet = [
    0x61, 0x0d, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xef, 0xbb, 0xbf, 0xed, 0xa0, 0xc0, 0xf4, 0x90, 0xff
  ]
  const utf8Bytes = fc.uint8Array({ maxLength: 40 }).map((raw) =>
    raw.map((byte) => utf8Alphabet[byte % utf8Alphabet.length]!)
  )
  // Long ASCII lines too, so that a line fills several of a buffer's blocks.
  const longLine = sized(1500).map((raw) => raw.map((byte) => 0x61 + byte % 26))
  const lineParts = fc.array(
    fc.oneof(
      { arbitrary: fc.string({ unit: "grapheme", maxLength: 200 }).map(bytes), weight: 3 },
      { arbitrary: longLine, weight: 3 },
      // Mostly invalid, and decoding stops at the first invalid line.
      { arbitrary: utf8Bytes, weight: 1 }
    ),
    { maxLength: 30 }
  )
  const linesInput = fc.tuple(lineParts, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), utf8Bytes).map(
    ([parts, crlf, tail]) =>
      concatBytes([...parts.flatMap((part, i) => [part, bytes(crlf[i] ? "\r\n" : "\n")]), tail])
  )

  it.effect.prop(
    "lines: any chunking gives the messages and the error of one chunk, as the reference does",
    {
      data: linesInput,
      maxLength: fc.oneof(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 256, max: 2000 }),
        fc.constant(Framing.defaultMaxLength)
      ),
      sizes: anySizes,
      perChunk
    },
    ({ data, maxLength, perChunk, sizes }) =>
      Effect.gen(function*() {
        const framing = Framing.lines({ maxLength })
        const whole = yield* expectSameAsOneChunk(framing, data, sizes, perChunk)
        expect({ messages: whole.messages, error: whole.error?.reason }).toEqual(referenceLines(data, maxLength))
      }),
    propOptions
  )

  const lengthPrefixedAgrees = (
    { frames, lengthBytes, maxFrameLength, perChunk, sizes, tail }: {
      readonly lengthBytes: 1 | 2 | 4
      readonly frames: ReadonlyArray<Uint8Array>
      readonly tail: Uint8Array
      readonly maxFrameLength: number
      readonly sizes: ReadonlyArray<number>
      readonly perChunk: number
    }
  ) =>
    Effect.gen(function*() {
      // Headers written here, not by encode, so that frames over the limit occur.
      const header = (length: number) =>
        Uint8Array.from({ length: lengthBytes }, (_, i) => Math.floor(length / 256 ** (lengthBytes - 1 - i)) % 256)
      const fitting = frames.map((frame) => frame.subarray(0, 2 ** (8 * lengthBytes) - 1))
      const data = concatBytes([...fitting.flatMap((frame) => [header(frame.length), frame]), tail])
      const framing = Framing.lengthPrefixed({ lengthBytes, maxFrameLength })
      const whole = yield* expectSameAsOneChunk(framing, data, sizes, perChunk)
      expect({ messages: whole.messages, error: whole.error?.reason }).toEqual(
        referenceLengthPrefixed(data, lengthBytes, maxFrameLength)
      )
    })

  it.effect.prop(
    "lengthPrefixed: any chunking gives the frames and the error of one chunk, as the reference does",
    {
      lengthBytes: fc.constantFrom(1 as const, 2 as const, 4 as const),
      frames: fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), sized(3000)), { maxLength: 12 }),
      tail: fc.uint8Array({ maxLength: 6 }),
      maxFrameLength: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3000 })),
      sizes: anySizes,
      perChunk
    },
    lengthPrefixedAgrees,
    propOptions
  )

  // Pieces of 4 KiB and more of a frame are kept as views of the input until
  // half the frame has arrived: frames of tens of KiB in pieces of mostly
  // 4 to 20 KiB, with small pieces among them.
  it.effect.prop(
    "lengthPrefixed: large frames in large pieces give the frames and the error of one chunk, as the reference does",
    {
      lengthBytes: fc.constantFrom(2 as const, 4 as const),
      frames: fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), sized(60_000)), { maxLength: 5 }),
      // Or a frame announced as 65,535 bytes (or, with 2-byte lengths, an empty one and that) cut short.
      tail: fc.oneof(
        fc.uint8Array({ maxLength: 6 }),
        sized(30_000).map((raw) => concatBytes([Uint8Array.of(0, 0, 255, 255), raw]))
      ),
      maxFrameLength: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(Framing.defaultMaxLength)),
      sizes: fc.array(
        fc.oneof(
          { arbitrary: fc.integer({ min: 1, max: 300 }), weight: 1 },
          { arbitrary: fc.integer({ min: 4000, max: 20_000 }), weight: 3 }
        ),
        { minLength: 1, maxLength: 6 }
      ),
      perChunk
    },
    lengthPrefixedAgrees,
    { fastCheck: { numRuns: 30 } }
  )

  it.effect.prop(
    "delimited: any chunking gives the frames and the error of one chunk, as the reference does",
    {
      // Delimiter bytes (0 and 1) everywhere, or long runs of other bytes
      // with a delimiter here and there, so that frames are long.
      input: fc.oneof(
        fc.uint8Array({ maxLength: 2000 }).map((raw) => raw.map((byte) => [0, 1, 0, 1, 2, 2, 2, 2][byte % 8]!)),
        fc.array(sized(1500).map((raw) => raw.map((byte) => 2 + byte % 254)), { maxLength: 4 })
      ),
      delimiter: fc.uint8Array({ min: 0, max: 1, minLength: 1, maxLength: 4 }),
      maxLength: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3000 })),
      sizes: anySizes,
      perChunk
    },
    ({ delimiter, input, maxLength, perChunk, sizes }) =>
      Effect.gen(function*() {
        const data = input instanceof Uint8Array ? input : concatBytes(input.flatMap((run) => [run, delimiter]))
        const framing = Framing.delimited(delimiter, { maxLength })
        const whole = yield* expectSameAsOneChunk(framing, data, sizes, perChunk)
        expect({ messages: whole.messages, error: whole.error?.reason }).toEqual(
          referenceDelimited(data, delimiter, maxLength)
        )
      }),
    propOptions
  )
})

describe("Framing.lines", () => {
  const framing = Framing.lines()

  it.effect("ends a line at \\n or \\r\\n, keeps empty lines and a lone \\r", () =>
    Effect.gen(function*() {
      const data = bytes("one\ntwo\r\n\n\r\nthree\rfour\n")
      expect(yield* decodeAll(framing, [data])).toEqual({ messages: ["one", "two", "", "", "three\rfour"] })
      expect(yield* decodeAll(framing, cut(data, [1]))).toEqual({ messages: ["one", "two", "", "", "three\rfour"] })
    }))

  it.effect("decodes a character whose UTF-8 bytes are split across chunks", () =>
    Effect.gen(function*() {
      expect(yield* decodeAll(framing, cut(bytes("é😀\n"), [1]))).toEqual({ messages: ["é😀"] })
    }))

  it.effect("emits every line of a chunk together, in one stream chunk", () =>
    Effect.gen(function*() {
      const chunks = yield* framing.decode(Stream.make(bytes("a\nb\nc\n"))).pipe(Stream.chunks, Stream.runCollect)
      expect(Chunk.toReadonlyArray(chunks).map(Chunk.toReadonlyArray)).toEqual([["a", "b", "c"]])
    }))

  it.effect("accepts a line of exactly maxLength bytes, with \\n or \\r\\n", () =>
    Effect.gen(function*() {
      const lines = Framing.lines({ maxLength: 4 })
      expect(yield* decodeAll(lines, [bytes("abcd\nwxyz\r\n")])).toEqual({ messages: ["abcd", "wxyz"] })
      expect(yield* decodeAll(lines, cut(bytes("abcd\r\n"), [1]))).toEqual({ messages: ["abcd"] })
      expect(yield* decodeAll(lines, cut(bytes("éé\n"), [1]))).toEqual({ messages: ["éé"] })
    }))

  it.effect("fails with FrameTooLarge one byte over maxLength, after the lines before it", () =>
    Effect.gen(function*() {
      const lines = Framing.lines({ maxLength: 4 })
      expect(yield* decodeAll(lines, [bytes("ok\nabcde\n")])).toEqual({ messages: ["ok"], error: "FrameTooLarge" })
      expect(yield* decodeAll(lines, cut(bytes("ok\nabcde"), [1]))).toEqual({
        messages: ["ok"],
        error: "FrameTooLarge"
      })
      expect(yield* decodeAll(lines, [bytes("abcd\r\r\n")])).toEqual({ messages: [], error: "FrameTooLarge" })
      const error = yield* frameError(lines, [bytes("abcdef")])
      expect(error.message).toContain("4 bytes")
    }))

  it.effect("fails with FrameTooLarge without reading past the limit of an endless line", () =>
    Effect.gen(function*() {
      let pulled = 0
      const endless = Stream.repeatValue(new Uint8Array(100).fill(0x61)).pipe(
        Stream.tap(() => Effect.sync(() => pulled++))
      )
      const error = yield* Framing.lines({ maxLength: 1000 }).decode(endless).pipe(Stream.runDrain, Effect.flip)
      expect(error.reason).toBe("FrameTooLarge")
      expect(pulled).toBeLessThanOrEqual(11)
    }))

  it.effect("fails with TruncatedFrame for an unterminated last line", () =>
    Effect.gen(function*() {
      expect(yield* decodeAll(framing, [bytes("a\nb")])).toEqual({ messages: ["a"], error: "TruncatedFrame" })
      expect(yield* decodeAll(framing, [bytes("a\r")])).toEqual({ messages: [], error: "TruncatedFrame" })
      expect(yield* decodeAll(framing, [])).toEqual({ messages: [] })
    }))

  it.effect("fails with InvalidFrame for invalid UTF-8, with the decoder's error as cause", () =>
    Effect.gen(function*() {
      const error = yield* frameError(framing, [new Uint8Array([0x61, 0x0a, 0xc3, 0x28, 0x0a])])
      expect(error.reason).toBe("InvalidFrame")
      expect(error.message).toContain("UTF-8")
      expect(error.cause).toBeInstanceOf(TypeError)
    }))

  it.effect("passes errors of the byte stream through unchanged", () =>
    Effect.gen(function*() {
      const error = yield* framing.decode(Stream.concat(Stream.make(bytes("a\n")), Stream.fail("boom" as const))).pipe(
        Stream.runDrain,
        Effect.flip
      )
      expect(error).toBe("boom")
    }))

  it.effect("can run the same decoded stream twice", () =>
    Effect.gen(function*() {
      const decoded = framing.decode(Stream.fromIterable(cut(bytes("a\nb"), [1])))
      expect(yield* outcome(decoded)).toEqual({ messages: ["a"], error: "TruncatedFrame" })
      expect(yield* outcome(decoded)).toEqual({ messages: ["a"], error: "TruncatedFrame" })
    }))

  it("encode appends \\n and rejects a message it could not give back", () => {
    expect(framing.encode("héllo")).toEqual(bytes("héllo\n"))
    expect(framing.encode("")).toEqual(bytes("\n"))
    expect(() => framing.encode("a\nb")).toThrow(Cause.IllegalArgumentException)
    expect(() => framing.encode("a\r")).toThrow(/must not end with/)
    expect(() => Framing.lines({ maxLength: 2 }).encode("abc")).toThrow(/over the maxLength of 2/)
    expect(Framing.lines({ maxLength: 2 }).encode("ab")).toEqual(bytes("ab\n"))
  })

  it("rejects a bad maxLength", () => {
    expect(() => Framing.lines({ maxLength: -1 })).toThrow(/maxLength/)
    expect(() => Framing.lines({ maxLength: 1.5 })).toThrow(/maxLength/)
  })

  it.effect("decodes 64 KiB of lines in 1-byte chunks", () =>
    Effect.gen(function*() {
      const messages = Array.from({ length: 4096 }, (_, i) => `line ${i}`.padEnd(15, "."))
      const data = concatBytes(messages.map(framing.encode))
      expect(yield* decodeAll(framing, cut(data, [1]), 4096)).toEqual({ messages })
      // And one byte per stream chunk, which is a read per byte.
      expect(yield* decodeAll(framing, cut(data.subarray(0, 8192), [1]), 1)).toEqual({
        messages: messages.slice(0, 512)
      })
    }))

  it.effect("decodes a 16 MiB line with a raised limit, in 64 KiB chunks and in one chunk", () =>
    Effect.gen(function*() {
      const size = 16 * 1024 * 1024
      const data = new Uint8Array(size + 1).fill(0x61)
      data[size] = 0x0a
      const big = Framing.lines({ maxLength: size })
      const [chunked] = (yield* decodeAll(big, cut(data, [65_536]))).messages
      expect(chunked?.length).toBe(size)
      const [whole] = (yield* decodeAll(big, [data])).messages
      expect(whole?.length).toBe(size)
      expect((yield* decodeAll(Framing.lines({ maxLength: size - 1 }), cut(data, [65_536]))).error).toBe(
        "FrameTooLarge"
      )
    }))
})

describe("Framing.lengthPrefixed", () => {
  it("encode writes a big-endian length of 1, 2 or 4 bytes", () => {
    const payload = new Uint8Array(258).fill(7)
    expect(Array.from(Framing.lengthPrefixed().encode(payload).subarray(0, 5))).toEqual([0, 0, 1, 2, 7])
    expect(Array.from(Framing.lengthPrefixed({ lengthBytes: 2 }).encode(payload).subarray(0, 3))).toEqual([1, 2, 7])
    expect(Array.from(Framing.lengthPrefixed({ lengthBytes: 1 }).encode(new Uint8Array([9])))).toEqual([1, 9])
  })

  it("encode rejects a message longer than the length field or maxFrameLength", () => {
    const oneByte = Framing.lengthPrefixed({ lengthBytes: 1, maxFrameLength: 10_000 })
    expect(oneByte.encode(new Uint8Array(255)).length).toBe(256)
    expect(() => oneByte.encode(new Uint8Array(256))).toThrow(/over the maxFrameLength of 255/)
    expect(() => Framing.lengthPrefixed({ maxFrameLength: 3 }).encode(new Uint8Array(4))).toThrow(
      Cause.IllegalArgumentException
    )
    expect(() => Framing.lengthPrefixed({ lengthBytes: 3 as 4 })).toThrow(/lengthBytes/)
  })

  it.effect("decodes zero-length frames, also when the header ends a chunk", () =>
    Effect.gen(function*() {
      const framing = Framing.lengthPrefixed({ lengthBytes: 2 })
      const messages = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(0)]
      const data = concatBytes(messages.map(framing.encode))
      const expected = { messages }
      expect(yield* decodeAll(framing, [data])).toEqual(expected)
      expect(yield* decodeAll(framing, cut(data, [2]))).toEqual(expected)
    }))

  it.effect("accepts a frame of exactly maxFrameLength and fails on the header of a larger one", () =>
    Effect.gen(function*() {
      const framing = Framing.lengthPrefixed({ maxFrameLength: 3 })
      expect(yield* decodeAll(framing, [new Uint8Array([0, 0, 0, 3, 1, 2, 3])])).toEqual({
        messages: [new Uint8Array([1, 2, 3])]
      })
      const error = yield* framing.decode(Stream.concat(Stream.make(new Uint8Array([0, 0, 0, 4])), Stream.never)).pipe(
        Stream.runDrain,
        Effect.flip
      )
      expect(error.reason).toBe("FrameTooLarge")
      expect(error.message).toContain("4 bytes")
    }))

  it.effect("fails at once on a 4 GiB header with the default limit", () =>
    Effect.gen(function*() {
      const header = Stream.make(new Uint8Array([0xff, 0xff, 0xff, 0xff]))
      const error = yield* Framing.lengthPrefixed().decode(Stream.concat(header, Stream.never)).pipe(
        Stream.runDrain,
        Effect.flip
      )
      expect(error.reason).toBe("FrameTooLarge")
      expect(error.message).toContain("4294967295")
    }))

  it.effect("fails with TruncatedFrame inside a header or a payload", () =>
    Effect.gen(function*() {
      const framing = Framing.lengthPrefixed()
      expect(yield* decodeAll(framing, [new Uint8Array([0, 0, 1])])).toEqual({ messages: [], error: "TruncatedFrame" })
      const error = yield* frameError(framing, cut(new Uint8Array([0, 0, 0, 1, 9, 0, 0, 0, 5, 1, 2]), [1]))
      expect(error.reason).toBe("TruncatedFrame")
      expect(error.message).toContain("2 bytes into a frame of 5 bytes")
    }))

  it.effect("decodes a 16 MiB frame with a raised limit, in 64 KiB chunks and 1-byte chunks for small ones", () =>
    Effect.gen(function*() {
      const size = 16 * 1024 * 1024
      const framing = Framing.lengthPrefixed({ maxFrameLength: size })
      const payload = new Uint8Array(size)
      for (let i = 0; i < size; i += 4096) payload[i] = i / 4096
      const encoded = framing.encode(payload)
      const [decoded] = (yield* decodeAll(framing, cut(encoded, [65_536]))).messages
      expect(decoded?.length).toBe(size)
      expect(Buffer.compare(decoded!, payload)).toBe(0)
      const small = Array.from({ length: 1000 }, (_, i) => new Uint8Array(i % 50).fill(i % 256))
      expect(yield* decodeAll(framing, cut(concatBytes(small.map(framing.encode)), [1]), 4096)).toEqual({ messages: small })
    }))
})

describe("Framing.lengthPrefixed, large frames", () => {
  const size = 1024 * 1024
  const framing = Framing.lengthPrefixed({ maxFrameLength: size })
  // Bytes that differ from their neighbours, so that a misplaced piece shows.
  const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 11)) % 251)
  // Small frames around it, so that the large one starts inside a piece.
  const input = () => concatBytes([framing.encode(bytes("ab")), framing.encode(payload), framing.encode(bytes("c"))])

  it.effect("decode byte-identical however cut, each in a buffer of its exact length not shared with the input", () =>
    Effect.gen(function*() {
      for (const sizes of [[65_536], [4096], [4095], [65_537], [100_003], [70_000, 3, 9000], [1, 65_535], [size + 6]]) {
        const data = input()
        const { error, messages } = yield* decodeAll(framing, cut(data, sizes))
        data.fill(0)
        expect(error).toBeUndefined()
        expect(messages.length).toBe(3)
        const large = messages[1]!
        expect(Buffer.compare(large, payload)).toBe(0)
        expect(Buffer.isBuffer(large)).toBe(false)
        expect(large.byteOffset).toBe(0)
        expect(large.buffer.byteLength).toBe(large.length)
        expect(messages[2]).toEqual(bytes("c"))
      }
    }))

  it.effect("cut short, before or after half has arrived, fail with the TruncatedFrame of one chunk", () =>
    Effect.gen(function*() {
      for (const arrived of [1, 300_000, 600_000, size - 1]) {
        const data = framing.encode(payload).subarray(0, 4 + arrived)
        const whole = yield* frameError(framing, [data])
        expect(whole.reason).toBe("TruncatedFrame")
        expect(whole.message).toBe(`the stream ended ${arrived} bytes into a frame of ${size} bytes`)
        for (const sizes of [[65_536], [5000, 7]]) {
          const error = yield* frameError(framing, cut(data, sizes))
          expect({ reason: error.reason, message: error.message }).toEqual({
            reason: whole.reason,
            message: whole.message
          })
        }
      }
    }))

  // The frame's buffer is not zeroed, and pieces are held as views until
  // half the frame has arrived: a producer that takes back memory it handed
  // over (a transferred ArrayBuffer reads as empty) breaks what a stream's
  // elements promise, and must get a defect, not a frame whose bytes were
  // never written.
  it.effect("die, rather than hand over unwritten bytes, when a producer detached a piece it had handed over", () =>
    Effect.gen(function*() {
      const pieces = cut(framing.encode(payload), [65_536]).map((piece) => piece.slice())
      const detaching = Stream.unfold(0, (index) => {
        // A piece is taken back once the decoder asked for the next one.
        if (index > 0) structuredClone(pieces[index - 1]!.buffer, { transfer: [pieces[index - 1]!.buffer] })
        return index < pieces.length ? Option.some([pieces[index]!, index + 1] as const) : Option.none()
      })
      const exit = yield* Stream.runCollect(framing.decode(detaching)).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      const defect = Exit.isFailure(exit) ? Chunk.toReadonlyArray(Cause.defects(exit.cause))[0] : undefined
      expect(defect).toBeInstanceOf(TypeError)
      expect(pieces[0]!.length).toBe(0)
    }))
})

describe("Framing.delimited", () => {
  it.effect("finds a multi-byte delimiter split across chunks, with empty frames", () =>
    Effect.gen(function*() {
      const framing = Framing.delimited("\r\n\r\n")
      const data = bytes("head\r\n\r\n\r\n\r\nbody\r\n\r\r\n\r\n")
      const expected = { messages: [bytes("head"), bytes(""), bytes("body\r\n\r")] }
      expect(yield* decodeAll(framing, [data])).toEqual(expected)
      for (const size of [1, 2, 3, 5]) expect(yield* decodeAll(framing, cut(data, [size]))).toEqual(expected)
    }))

  it.effect("handles a delimiter that overlaps itself", () =>
    Effect.gen(function*() {
      const framing = Framing.delimited(new Uint8Array([1, 1, 2]))
      const data = new Uint8Array([1, 1, 1, 2, 3, 1, 1, 2])
      expect(yield* decodeAll(framing, cut(data, [1]))).toEqual({
        messages: [new Uint8Array([1]), new Uint8Array([3])]
      })
    }))

  it.effect("does not count a partial delimiter against the limit", () =>
    Effect.gen(function*() {
      const framing = Framing.delimited("--", { maxLength: 3 })
      expect(yield* decodeAll(framing, cut(bytes("abc--"), [1]))).toEqual({ messages: [bytes("abc")] })
      expect(yield* decodeAll(framing, cut(bytes("abc-x--"), [1]))).toEqual({ messages: [], error: "FrameTooLarge" })
      expect(yield* decodeAll(framing, [bytes("abcd--")])).toEqual({ messages: [], error: "FrameTooLarge" })
      expect(yield* decodeAll(framing, [bytes("ab-")])).toEqual({ messages: [], error: "TruncatedFrame" })
    }))

  it("encode appends the delimiter and rejects a message it could not give back", () => {
    const framing = Framing.delimited("aa", { maxLength: 4 })
    expect(framing.encode(bytes("bab"))).toEqual(bytes("babaa"))
    expect(() => framing.encode(bytes("baab"))).toThrow(/must not contain the delimiter/)
    expect(() => framing.encode(bytes("ba"))).toThrow(Cause.IllegalArgumentException)
    expect(() => framing.encode(bytes("bbbbb"))).toThrow(/over the maxLength of 4/)
    expect(() => Framing.delimited("")).toThrow(/must not be empty/)
  })

})

describe("Framing byte frames", () => {
  // Sockets deliver Node Buffers, whose `slice` is a view: frames must still be copies.
  it.effect("are plain Uint8Arrays that do not share memory with the input Buffers", () =>
    Effect.gen(function*() {
      const cases = [
        { framing: Framing.delimited(";"), input: () => Buffer.from("abc;") },
        { framing: Framing.lengthPrefixed({ lengthBytes: 1 }), input: () => Buffer.from([3, 97, 98, 99]) },
        { framing: Framing.lengthPrefixed({ lengthBytes: 1 }), input: () => Buffer.from([3, 97, 98, 99]), size: 2 },
        { framing: Framing.delimited(";"), input: () => Buffer.from("abc;"), size: 1 }
      ]
      for (const { framing, input, size } of cases) {
        const data = input()
        const { messages } = yield* decodeAll(framing, cut(data, size === undefined ? [] : [size]))
        data.fill(0)
        expect(messages).toEqual([bytes("abc")])
        expect(Buffer.isBuffer(messages[0])).toBe(false)
      }
    }))
})

describe("Framing.schema", () => {
  const Request = Schema.Union(
    Schema.TaggedStruct("Add", { a: Schema.Number, b: Schema.Number }),
    Schema.TaggedStruct("Echo", { text: Schema.String })
  )
  const framing = Framing.schema(Request)

  it.effect("sends one JSON document per line", () =>
    Effect.gen(function*() {
      expect(new TextDecoder().decode(framing.encode({ _tag: "Add", a: 1, b: 2 }))).toBe(
        "{\"_tag\":\"Add\",\"a\":1,\"b\":2}\n"
      )
      const data = bytes("{\"_tag\":\"Echo\",\"text\":\"x\\ny\"}\r\n")
      expect(yield* decodeAll(framing, cut(data, [1]))).toEqual({ messages: [{ _tag: "Echo", text: "x\ny" }] })
    }))

  it.effect("fails with InvalidFrame for text that is not JSON", () =>
    Effect.gen(function*() {
      const error = yield* frameError(framing, [bytes("{\"_tag\":\"Add\",\"a\":1,\"b\":2}\n{oops\n")])
      expect(error.reason).toBe("InvalidFrame")
      expect(error.message).toContain("not valid JSON")
      expect(error.cause).toBeInstanceOf(SyntaxError)
    }))

  it.effect("fails with InvalidFrame carrying the ParseError for JSON that does not match", () =>
    Effect.gen(function*() {
      const data = bytes("{\"_tag\":\"Add\",\"a\":1,\"b\":2}\n{\"_tag\":\"Add\",\"a\":\"1\",\"b\":2}\n")
      expect(yield* decodeAll(framing, [data])).toEqual({
        messages: [{ _tag: "Add", a: 1, b: 2 }],
        error: "InvalidFrame"
      })
      const error = yield* frameError(framing, [data])
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("does not match the schema")
      expect(error.message).toContain("Expected number")
    }))

  it.effect("uses the limits and errors of the framing it runs over", () =>
    Effect.gen(function*() {
      const small = Framing.schema(Request, Framing.lines({ maxLength: 20 }))
      expect(yield* decodeAll(small, [bytes("{\"_tag\":\"Echo\",\"text\":\"long text\"}\n")])).toEqual({
        messages: [],
        error: "FrameTooLarge"
      })
      expect(() => small.encode({ _tag: "Echo", text: "long text" })).toThrow(Cause.IllegalArgumentException)
    }))

  it("encode throws an IllegalArgumentException, with the parse issue, for a value the schema cannot encode", () => {
    const positive = Framing.schema(Schema.Struct({ n: Schema.Positive }))
    expect(() => positive.encode({ n: -1 })).toThrow(Cause.IllegalArgumentException)
    expect(() => positive.encode({ n: -1 })).toThrow(/Expected a positive number/)
  })

  it("encode refuses, with an IllegalArgumentException, what JSON cannot carry back", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const refused: ReadonlyArray<readonly [string, () => Uint8Array, RegExp]> = [
      ["NaN", () => Framing.schema(Schema.Number).encode(Number.NaN), /NaN would come back as null/],
      ["Infinity", () => Framing.schema(Schema.Number).encode(Number.POSITIVE_INFINITY), /Infinity would come back as null/],
      ["-Infinity inside", () => Framing.schema(Schema.Struct({ n: Schema.Number })).encode({ n: -Infinity }), /at \.n/],
      ["a bigint", () => Framing.schema(Schema.BigIntFromSelf).encode(1n), /not JSON.*BigInt/],
      ["a Date as itself", () => Framing.schema(Schema.DateFromSelf).encode(new Date(0)), /a Date would come back as the string/],
      ["a Date inside Unknown", () => Framing.schema(Schema.Unknown).encode({ at: [new Date(0)] }), /at \.at\[0\]/],
      ["a Map", () => Framing.schema(Schema.Unknown).encode(new Map([[1, 2]])), /a Map would come back as an object/],
      ["a hole", () => Framing.schema(Schema.Array(Schema.Unknown)).encode([, 1]), /undefined at \[0\] would come back as null/],
      ["undefined", () => Framing.schema(Schema.Undefined).encode(undefined), /is not JSON/],
      ["a cycle", () => Framing.schema(Schema.Unknown).encode(cyclic), /not JSON.*circular/]
    ]
    for (const [label, encode, message] of refused) {
      expect(encode, label).toThrow(Cause.IllegalArgumentException)
      expect(encode, label).toThrow(message)
    }
    // The same framing would have rejected what encode wrote before: "null" is no number.
    expect(Either.isLeft(Schema.decodeUnknownEither(Schema.Number)(JSON.parse("null")))).toBe(true)
  })

  it("encode accepts what does come back: a Date as a string, a bigint as a string, an optional key left undefined", () => {
    const text = (encoded: Uint8Array) => new TextDecoder().decode(encoded)
    expect(text(Framing.schema(Schema.Date).encode(new Date(0)))).toBe("\"1970-01-01T00:00:00.000Z\"\n")
    expect(text(Framing.schema(Schema.BigInt).encode(1n))).toBe("\"1\"\n")
    expect(text(Framing.schema(Schema.Struct({ a: Schema.optional(Schema.Number) })).encode({ a: undefined }))).toBe("{}\n")
    // JSON writes -0 as 0, which is === -0.
    expect(text(Framing.schema(Schema.Number).encode(-0))).toBe("0\n")
  })

  // Leaves JSON can and cannot carry; -0 becomes 0, which `toEqual` tells apart but `===` does not.
  const leaves = [
    fc.double().map((n) => (Object.is(n, -0) ? 0 : n)),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.bigInt(),
    fc.date()
  ]
  let accepted = 0
  let refused = 0
  it.effect.prop(
    "schema(Unknown): encode either throws IllegalArgumentException or decode(encode(x)) equals x",
    [fc.anything({ values: leaves, withMap: true, withSet: true, withSparseArray: true, withNullPrototype: true, maxDepth: 3 })],
    ([value]) =>
      Effect.gen(function*() {
        const framing = Framing.schema(Schema.Unknown)
        let encoded: Uint8Array
        try {
          encoded = framing.encode(value)
        } catch (error) {
          refused++
          expect(error).toBeInstanceOf(Cause.IllegalArgumentException)
          return
        }
        accepted++
        expect(yield* decodeAll(framing, [encoded])).toEqual({ messages: [value] })
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it("the round-trip property saw both outcomes", () => {
    expect(accepted).toBeGreaterThan(0)
    expect(refused).toBeGreaterThan(0)
  })
})

describe("Framing used wrongly", () => {
  const untyped = <A>(value: unknown): A => value as A
  // (`null`, like `undefined`, means the default.)
  const badLimits: ReadonlyArray<unknown> = [-1, Number.NaN, Number.POSITIVE_INFINITY, 1.5, "10", {}]

  it("the constructors throw an IllegalArgumentException, naming the argument, for every limit that is not a non-negative integer", () => {
    for (const limit of badLimits) {
      const makes: ReadonlyArray<readonly [string, () => unknown]> = [
        ["lines maxLength", () => Framing.lines({ maxLength: untyped(limit) })],
        ["delimited maxLength", () => Framing.delimited(";", { maxLength: untyped(limit) })],
        ["lengthPrefixed maxFrameLength", () => Framing.lengthPrefixed({ maxFrameLength: untyped(limit) })]
      ]
      for (const [label, make] of makes) {
        expect(make, `${label} ${String(limit)}`).toThrow(Cause.IllegalArgumentException)
        expect(make, `${label} ${String(limit)}`).toThrow(/must be a non-negative integer/)
      }
    }
    expect(Framing.lines({ maxLength: 0 }).encode("")).toEqual(bytes("\n"))
  })

  it("constructors and encode throw an IllegalArgumentException for a length field, delimiter, options, schema, framing or message of the wrong kind", () => {
    const makes: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
      ["lengthBytes 3", () => Framing.lengthPrefixed({ lengthBytes: untyped(3) }), /lengthBytes must be 1, 2 or 4/],
      ["lengthBytes 8", () => Framing.lengthPrefixed({ lengthBytes: untyped(8) }), /lengthBytes must be 1, 2 or 4/],
      ["lengthBytes \"4\"", () => Framing.lengthPrefixed({ lengthBytes: untyped("4") }), /lengthBytes must be 1, 2 or 4/],
      ["empty delimiter", () => Framing.delimited(""), /must not be empty/],
      ["numeric delimiter", () => Framing.delimited(untyped(10)), /not a Uint8Array or a string/],
      ["no delimiter", () => Framing.delimited(untyped(undefined)), /not a Uint8Array or a string/],
      ["options 42", () => Framing.lines(untyped(42)), /options are the number 42/],
      ["options \"x\"", () => Framing.lengthPrefixed(untyped("x")), /options are the string/],
      ["no schema", () => Framing.schema(untyped<Schema.Schema<unknown>>(undefined)), /not a Schema/],
      ["a framing that is not one", () => Framing.schema(Schema.String, untyped({})), /not a Framing/],
      ["lines encode of a number", () => Framing.lines().encode(untyped(42)), /the message is the number 42, not a string/],
      ["delimited encode of a string", () => Framing.delimited(";").encode(untyped("a")), /not a Uint8Array/],
      ["lengthPrefixed encode of null", () => Framing.lengthPrefixed().encode(untyped(null)), /the message is null/],
      ["lengthPrefixed encode of an array", () => Framing.lengthPrefixed().encode(untyped([1, 2])), /an array/]
    ]
    for (const [label, make, message] of makes) {
      expect(make, label).toThrow(Cause.IllegalArgumentException)
      expect(make, label).toThrow(message)
    }
  })
})
