/**
 * WebGPU's usage and map-mode bit flags as plain numbers (values fixed by the spec):
 * Node has no `GPUBufferUsage` global unless the bindings' globals are installed,
 * and installing globals would leak into the user's process.
 */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
} as const;

export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;
