/**
 * CARv1 for the trustless gateway (`application/vnd.ipld.car`): written with `@ipld/car` by
 * the kit's CAR module (the header, then the blocks of a DAG in depth-first order without
 * duplicates: `order=dfs; dups=n`).
 *
 * @packageDocumentation
 */
export { type CarBlock, carStream, type DagScope, dagBlocks } from '../kit/car.ts'
