import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Port } from "../../Address.js"

// What the command line accepts beyond @effect/cli's primitives. A value out
// of range is a usage error (exit 2), found before any socket opens.

/** What `parse` reads from the text, or a usage error saying `message` of it. */
const parsedBy = <A>(parse: (text: string) => Option.Option<A>, message: (text: string) => string) => (text: string) =>
  Option.match(parse(text), {
    onNone: () => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message(text)))),
    onSome: Effect.succeed
  })

const shortUnits: Record<string, Duration.Unit> = { ms: "millis", s: "seconds", m: "minutes", h: "hours" }

/**
 * A duration as `500ms`, `2s`, `1m`, or Effect's own `"500 millis"`.
 *
 * @internal
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const short = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim())
  if (short !== null) return Option.some(Duration.decode(`${Number(short[1])} ${shortUnits[short[2]]}`))
  return /^\d+(\.\d+)?\s+[a-z]+$/.test(text.trim()) ? Duration.decodeUnknown(text.trim()) : Option.none()
}

const duration = parsedBy(parseDuration, (text) => `"${text}" is not a duration (500ms, 2s, 1m, "500 millis")`)

/** @internal */
export const durationOption = (name: string, description: string) =>
  Options.text(name).pipe(Options.mapEffect(duration), Options.withDescription(description), Options.optional)

/** @internal */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * `host:port`, `[v6]:port` or `name:port`; the host is checked when it is
 * used (a name that does not resolve is a runtime error, exit 1).
 *
 * @internal
 */
export const parseHostPort = (text: string): Option.Option<HostPort> => {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text)
  if (match === null) return Option.none()
  const port = Number(match[2])
  return port <= 65535 ? Option.some({ host: match[1], port }) : Option.none()
}

/** @internal */
export const hostPortOption = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.mapEffect(parsedBy(parseHostPort, (text) => `--${name} "${text}" is not HOST:PORT (a port in 0..65535)`)),
    Options.withDescription(description)
  )

/** @internal */
export const hostOption = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("the address to listen on")
)

/** @internal */
export const portOption = Options.integer("port").pipe(
  Options.withSchema(Port),
  Options.withDefault(0),
  Options.withDescription("the port to listen on; 0 picks a free one")
)

/** @internal */
export const hostArg = Args.text({ name: "HOST" }).pipe(Args.withDescription("the host to reach"))

/** @internal */
export const portArg = Args.integer({ name: "PORT" }).pipe(Args.withSchema(Port), Args.withDescription("its port"))

const Probability = Schema.Number.pipe(Schema.between(0, 1))

/** @internal */
export const probabilityOption = (name: string, description: string) =>
  Options.float(name).pipe(Options.withSchema(Probability), Options.withDescription(description), Options.optional)

/** @internal */
export const countOption = (name: string, description: string, minimum: number) =>
  Options.integer(name).pipe(
    Options.withSchema(Schema.Int.pipe(Schema.greaterThanOrEqualTo(minimum))),
    Options.withDescription(description),
    Options.optional
  )
