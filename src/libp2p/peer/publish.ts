/**
 * Publishing on gossipsub without losing the message to a peer that just subscribed.
 *
 * @packageDocumentation
 */

import type { AbortOptions } from '@libp2p/interface'
import { PUBSUB_PUBLISH_STREAM_WAIT_MS, PUBSUB_WAITED_PEERS_KEPT } from '../../constants.ts'
import type { PeerServices } from './types.ts'

type PubSubService = PeerServices['pubsub']

/**
 * Publishes on a node's gossipsub, first waiting (briefly) until every known subscriber of the
 * topic has an outbound stream. Gossipsub learns a subscription over the remote's stream before
 * its own stream to that peer is open, and drops a message for a peer with no stream yet: a
 * publish right after a peer joined would silently miss it. Each peer is waited for once; one
 * that still has no stream after that is not waited for again.
 */
export class Publisher {
  readonly #service: () => PubSubService
  /** peers a publish already waited for */
  readonly #waitedFor = new Set<string>()

  constructor(service: () => PubSubService) {
    this.#service = service
  }

  async publish(topic: string, data: Uint8Array, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    await this.#outboundStreams(topic, options)
    await this.#service().publish(topic, data)
  }

  async #outboundStreams(topic: string, options: AbortOptions): Promise<void> {
    const service = this.#service()
    // gossipsub's own field (@libp2p/gossipsub 17), not in its public types
    const outbound = (service as unknown as { streamsOutbound?: Map<string, unknown> }).streamsOutbound
    if (!(outbound instanceof Map)) return
    const fresh = service
      .getSubscribers(topic)
      .map((p) => p.toString())
      .filter((p) => !outbound.has(p) && !this.#waitedFor.has(p))
    if (fresh.length === 0) return
    const deadline = Date.now() + PUBSUB_PUBLISH_STREAM_WAIT_MS
    while (Date.now() < deadline && fresh.some((p) => !outbound.has(p))) {
      options.signal?.throwIfAborted()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    for (const p of fresh) this.#waitedFor.add(p)
    if (this.#waitedFor.size > PUBSUB_WAITED_PEERS_KEPT) this.#waitedFor.clear()
  }
}
