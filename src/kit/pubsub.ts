import type { Message } from '@libp2p/gossipsub'
import type { AbortOptions } from '@libp2p/interface'
import { InvalidParametersError } from '../errors.ts'
import type { IPFSLibp2pPeer } from '../libp2p/peer/index.ts'
import type { PubsubHandler, PubsubMessage } from './types.ts'

/** Largest message we publish (gossipsub's default max message size is 1 MiB). */
export const MAX_PUBSUB_MESSAGE_BYTES = 1024 * 1024

function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string' || topic === '') {
    throw new InvalidParametersError('a pubsub topic must be a non-empty string')
  }
  return topic
}

/**
 * Topic subscriptions with several handlers each, on the peer's gossipsub. One
 * listener on the service feeds every handler of a message's topic.
 */
export class PubsubHub {
  readonly #peer: IPFSLibp2pPeer
  readonly #handlers = new Map<string, Set<PubsubHandler>>()
  #listening = false

  constructor(peer: IPFSLibp2pPeer) {
    this.#peer = peer
  }

  readonly #onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    const handlers = this.#handlers.get(msg.topic)
    if (handlers == null) return
    const message: PubsubMessage = {
      from: msg.type === 'signed' ? msg.from.toString() : '',
      data: msg.data,
      seqno: msg.type === 'signed' ? msg.sequenceNumber.toString(16) : undefined,
      topicIDs: [msg.topic]
    }
    for (const handler of handlers) {
      Promise.resolve()
        .then(() => handler(message))
        .catch(() => {
          // a failing handler must not stop the others
        })
    }
  }

  #service() {
    return this.#peer.host.services.pubsub
  }

  subscribe(topic: string, handler: PubsubHandler): void {
    checkTopic(topic)
    if (typeof handler !== 'function') throw new InvalidParametersError('a pubsub handler must be a function')
    const pubsub = this.#service()
    if (!this.#listening) {
      pubsub.addEventListener('message', this.#onMessage)
      this.#listening = true
    }
    let set = this.#handlers.get(topic)
    if (set == null) {
      set = new Set()
      this.#handlers.set(topic, set)
      pubsub.subscribe(topic)
    }
    set.add(handler)
  }

  unsubscribe(topic: string, handler?: PubsubHandler): void {
    checkTopic(topic)
    const set = this.#handlers.get(topic)
    if (set == null) return
    if (handler != null) set.delete(handler)
    else set.clear()
    if (set.size === 0) {
      this.#handlers.delete(topic)
      this.#service().unsubscribe(topic)
    }
  }

  async publish(topic: string, data: string | Uint8Array, options: AbortOptions = {}): Promise<void> {
    checkTopic(topic)
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
    if (!(bytes instanceof Uint8Array))
      throw new InvalidParametersError('pubsub data must be a string or a Uint8Array')
    if (bytes.byteLength > MAX_PUBSUB_MESSAGE_BYTES) {
      throw new InvalidParametersError(
        `pubsub message of ${bytes.byteLength} bytes is over the ${MAX_PUBSUB_MESSAGE_BYTES} byte limit`
      )
    }
    await this.#peer.publish(topic, bytes, options)
  }

  peers(topic?: string): string[] {
    const pubsub = this.#service()
    const ids = topic == null ? pubsub.getPeers() : pubsub.getSubscribers(checkTopic(topic))
    return ids.map((p) => p.toString())
  }

  topics(): string[] {
    return this.#service().getTopics()
  }

  /** Drop every handler (on stop). */
  close(): void {
    if (this.#listening && this.#peer.isStarted && !this.#peer.offline) {
      this.#service().removeEventListener('message', this.#onMessage)
    }
    this.#listening = false
    this.#handlers.clear()
  }
}
