import type { Helia } from '@helia/interface'
import type { HeliaInit } from 'helia'

/** What `createHeliaLight` takes: storage, a logger and codecs beyond dag-pb and raw, no libp2p. */
export type HeliaCoreInit = Pick<HeliaInit, 'blockstore' | 'datastore' | 'logger' | 'codecs'>

type HeliaClass = new (init: HeliaCoreInit & { name: string; version: string }) => Helia

let loading: Promise<(init: HeliaCoreInit) => Helia> | undefined

/**
 * Helia's own node with no network, as `createHeliaLight` from `helia` makes it, without
 * loading `helia`'s entry point: that module imports its whole default stack (libp2p and its
 * transports, auto-TLS with ACME and X.509, WebRTC, UPnP, HTTP gateways), which cost an
 * offline command most of its start time. `createHeliaLight` is only `new Helia({ name,
 * version, ...init })`; the class sits in `dist/src/helia.js` beside the entry point, which
 * the package's exports map does not list, so it is loaded by its file URL. If a release
 * moves it, the entry point's `createHeliaLight` is used instead (slower, same node).
 */
export async function createHeliaCore(init: HeliaCoreInit): Promise<Helia> {
  loading ??= loadFactory()
  return (await loading)(init)
}

async function loadFactory(): Promise<(init: HeliaCoreInit) => Helia> {
  try {
    const entry = import.meta.resolve('helia')
    const [core, info] = await Promise.all([
      import(new URL('./helia.js', entry).href) as Promise<{ Helia?: unknown }>,
      import(new URL('./version.js', entry).href) as Promise<{ name?: unknown; version?: unknown }>
    ])
    const { name, version } = info
    if (typeof core.Helia === 'function' && typeof name === 'string' && typeof version === 'string') {
      const Core = core.Helia as HeliaClass
      return (init) => new Core({ name, version, ...init })
    }
  } catch {
    // the layout changed: fall back to the entry point
  }
  const { createHeliaLight } = await import('helia')
  return (init) => createHeliaLight(init)
}
