/** ipfs-kit's version, as advertised by identify and `ipfs-kit version`. */
export const VERSION = '0.1.0'
