import { expect, it } from "@effect/vitest"
import * as EffectNet from "effect-net"
import * as Udp from "effect-net/Udp"

it("the package exports one namespace per module, by its own name", () => {
  expect(Object.keys(EffectNet).sort()).toEqual(
    ["Address", "Framing", "NetError", "Network", "NodeNetwork", "Tcp", "TestNetwork", "Udp"]
  )
  expect(typeof EffectNet.Tcp.listen).toBe("function")
  expect(typeof EffectNet.Udp.bind).toBe("function")
  expect(typeof EffectNet.Framing.lines).toBe("function")
  expect(typeof EffectNet.TestNetwork.layer).toBe("function")
  expect(Udp.maxPayload).toEqual({ IPv4: 65_507, IPv6: 65_527 })
})
