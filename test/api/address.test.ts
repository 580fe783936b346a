import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck, Schema } from "effect"
import * as Address from "../../src/Address.js"
import * as NetError from "../../src/NetError.js"

describe("Address.parse / format", () => {
  it.effect("parses IPv4 and bracketed IPv6", () =>
    Effect.gen(function*() {
      expect(yield* Address.parse("127.0.0.1:80")).toEqual({ family: "IPv4", host: "127.0.0.1", port: 80 })
      expect(yield* Address.parse("[::1]:65535")).toEqual({ family: "IPv6", host: "::1", port: 65535 })
    }))

  it.effect("rejects what is not host:port with the right reason", () =>
    Effect.gen(function*() {
      for (const text of ["127.0.0.1", "::1:80", "localhost:80", "[127.0.0.1]:80", "1.2.3.4.5:1", "", ":80"]) {
        expect(yield* Effect.flip(Address.parse(text))).toMatchObject({ _tag: "AddressError", reason: "InvalidHost" })
      }
      for (const text of ["127.0.0.1:70000", "127.0.0.1:-1", "127.0.0.1:1.5", "127.0.0.1:", "[::1]:x"]) {
        expect(yield* Effect.flip(Address.parse(text))).toMatchObject({ _tag: "AddressError", reason: "InvalidPort" })
      }
    }))

  it.effect.prop("format is the inverse of parse", [
    FastCheck.oneof(FastCheck.ipV4(), FastCheck.ipV6()),
    FastCheck.integer({ min: 0, max: 65535 })
  ], ([host, port]) =>
    Effect.gen(function*() {
      const address = yield* Address.parse(Address.format({ host, port }))
      expect(address.port).toBe(port)
      expect(Address.format(address)).toBe(Address.format({ host, port }))
    }), { fastCheck: { numRuns: 200 } })

  it.effect("validateHost accepts names and IP literals, rejects the rest", () =>
    Effect.gen(function*() {
      for (const host of ["localhost", "example.com", "a-b.c", "127.0.0.1", "::1", "[::1]", "fe80::1"]) {
        expect(yield* Effect.either(Address.validateHost(host))).toMatchObject({ _tag: "Right" })
      }
      for (const host of ["", " ", "a b", "-x.com", "256.0.0.1", "1.2.3", "x".repeat(64) + ".com", 42, null]) {
        expect(yield* Effect.flip(Address.validateHost(host))).toMatchObject({ reason: "InvalidHost" })
      }
    }))

  it("the Port schema takes integers 0..65535 only", () => {
    const isPort = Schema.is(Address.Port)
    expect([0, 80, 65535].every(isPort)).toBe(true)
    expect([-1, 65536, 1.5, Number.NaN].some(isPort)).toBe(false)
  })
})

describe("NetError", () => {
  it("maps errno codes to each step's reasons and keeps unknown codes", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", syscall: "connect" })
    const error = NetError.fromCause("ConnectError", refused, { what: "connect to", address: "127.0.0.1:9" })
    expect(error).toMatchObject({ _tag: "ConnectError", reason: "ConnectionRefused", code: "ECONNREFUSED", syscall: "connect" })
    expect(error.message).toBe("connect to 127.0.0.1:9 failed: connection refused (ECONNREFUSED)")
    const odd = Object.assign(new Error("odd"), { code: "EWEIRD" })
    expect(NetError.fromCause("ReadError", odd, { what: "read from" })).toMatchObject({ reason: "Unknown", code: "EWEIRD" })
    expect(NetError.fromCause("BindError", Object.assign(new Error(), { code: "EADDRINUSE" }), { what: "listen on" }).reason)
      .toBe("AddressInUse")
  })

  it.effect("errors survive a round trip through their schema", () =>
    Effect.gen(function*() {
      const error = new NetError.WriteError({ reason: "BrokenPipe", message: "write to 127.0.0.1:1 failed", code: "EPIPE" })
      const encoded = yield* Schema.encode(NetError.WriteError)(error)
      const decoded = yield* Schema.decodeUnknown(NetError.WriteError)(JSON.parse(JSON.stringify(encoded)))
      expect(decoded).toBeInstanceOf(NetError.WriteError)
      expect(decoded).toMatchObject({ _tag: "WriteError", reason: "BrokenPipe", code: "EPIPE" })
    }))
})
