// OrbitDB 4 ships JavaScript without types: `state.ts` gives the parts it uses their types.
declare module '@orbitdb/core'
