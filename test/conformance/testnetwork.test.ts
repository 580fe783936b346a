import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestNetwork from "../../src/TestNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { conformance, localhostAddresses } from "./suite.js"

// The simulation opens no real socket, ever.
checkNoSocketLeaks()

// localhost resolves as on this machine, so that both runs see the same names.
conformance("TestNetwork", TestNetwork.layer({ hosts: { localhost: await localhostAddresses() } }), {
  afterEach: Effect.map(TestNetwork.snapshot(), (snapshot) => {
    expect(snapshot).toEqual({ tcpListeners: [], tcpConnections: [], udpSockets: [] })
  })
})
