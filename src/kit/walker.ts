import type { GraphNode, GraphWalkerComponents, GraphWalkerFactory, WalkOptions } from '@helia/interface'
import { createUnsafe } from 'multiformats/block'
import type { CID } from 'multiformats/cid'
import { collectBytes } from '../blocks/bytes.ts'
import { PIN_WALK_PREFETCH } from '../constants.ts'

interface Pending {
  cid: CID
  depth: number
  path: CID[]
  /** set once the block is being fetched */
  bytes?: Promise<Uint8Array>
}

/** Options of {@link strictDepthFirstWalker}. */
export interface StrictWalkerInit {
  /**
   * Visit a block that is not held (or was bad and removed) as a leaf instead of failing: for
   * unpinning, which must work on a DAG with lost blocks and never fetches. @default false
   */
  skipMissing?: boolean
}

/** A block that cannot be had, visited as a leaf: only its CID is known. */
function missingBlock(cid: CID): GraphNode<unknown>['block'] {
  return {
    cid,
    bytes: new Uint8Array(0),
    links: () => [][Symbol.iterator]()
  } as unknown as GraphNode<unknown>['block']
}

function isMissing(err: unknown): boolean {
  const name = (err as Error)?.name
  return name === 'BlockNotFoundWhileOfflineError' || name === 'NotFoundError' || name === 'CorruptBlockError'
}

/**
 * A depth-first DAG walker for pinning that fails when a block cannot be had. Helia's
 * own walker reports a missing block through `generator.throw()` on a generator that is
 * suspended elsewhere, so the walk ends as if complete (and the pin is recorded) while
 * the error surfaces as an unhandled rejection. This one awaits every block in order and
 * lets its error end the walk; up to {@link PIN_WALK_PREFETCH} blocks are fetched ahead.
 */
export function strictDepthFirstWalker(init: StrictWalkerInit = {}): GraphWalkerFactory {
  return (components: GraphWalkerComponents) => ({
    async *walk<T>(root: CID, options: WalkOptions<T> = {}): AsyncGenerator<GraphNode<T>> {
      const maxDepth = options.depth ?? Number.POSITIVE_INFINITY
      const fetch = (cid: CID): Promise<Uint8Array> => {
        const bytes = collectBytes(components.blockstore.get(cid, options))
        // awaited in order below; until then, keep an early failure from being "unhandled"
        bytes.catch(() => {})
        return bytes
      }
      const stack: Pending[] = [{ cid: root, depth: 0, path: [root], bytes: fetch(root) }]
      const prefetch = (): void => {
        // the next blocks to be visited are at the end of the stack
        for (let i = stack.length - 1, n = 0; i >= 0 && n < PIN_WALK_PREFETCH; i--, n++) {
          const p = stack[i]!
          p.bytes ??= fetch(p.cid)
        }
      }
      while (stack.length > 0) {
        const next = stack.pop()!
        let bytes: Uint8Array
        try {
          bytes = await (next.bytes ?? fetch(next.cid))
        } catch (err) {
          if (init.skipMissing !== true || !isMissing(err)) throw err
          yield { block: missingBlock(next.cid) as GraphNode<T>['block'], depth: next.depth, path: next.path }
          continue
        }
        const block = createUnsafe({ cid: next.cid, bytes, codec: await components.getCodec(next.cid.code) })
        if (next.depth < maxDepth) {
          const children: Pending[] = []
          for (const [, child] of block.links()) {
            if (options.includeChild?.(child, block) === false) continue
            children.push({
              cid: child,
              depth: next.depth + 1,
              path: [...next.path, child]
            })
          }
          stack.push(...children.reverse())
          prefetch()
        }
        yield { block: block as GraphNode<T>['block'], depth: next.depth, path: next.path }
      }
    }
  })
}
