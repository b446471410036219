#!/usr/bin/env node
/**
 * The `ipfs-kit` executable.
 *
 * @packageDocumentation
 */
import module from 'node:module'

// cache compiled code on disk (Node ≥ 22.1): every one-shot command loads the whole
// IPFS stack, and this saves a good part of that on every run after the first
module.enableCompileCache?.()

const { main } = await import('./index.ts')
const code = await main(process.argv)
process.exitCode = code
// a failed command (a timeout) may leave a node or a request open: it does not keep the process
if (code !== 0) setTimeout(() => process.exit(code), 1000).unref()
