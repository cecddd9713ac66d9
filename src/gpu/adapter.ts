/**
 * Finds a WebGPU adapter and describes it: which one, whether it is a software
 * rasteriser (a correctness device, not a fast one), and what limits it allows.
 */
import { gpuInstanceOrNull, dawnLoadError, withDawnLogHidden } from './dawn.js';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations (lavapipe/llvmpipe, SwiftShader, WARP). */
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** The limits gnnrl asks for: as much as the adapter allows of each. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const SOFTWARE_PATTERN = /llvmpipe|lavapipe|swiftshader|software|warp|microsoft basic render/i;

export function isSoftwareAdapter(info: { vendor: string; architecture: string; device: string; description: string }): boolean {
  return SOFTWARE_PATTERN.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const base = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
  };
  const limits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) limits[name] = Number((adapter.limits as unknown as Record<string, number>)[name]);
  return { ...base, software: isSoftwareAdapter(base), features: [...adapter.features].map(String).sort(), limits };
}

export interface AdapterProbe {
  adapter: GPUAdapter | null;
  /** Why no adapter was found, when none was. */
  reason?: string;
}

export async function requestAdapter(powerPreference: GPUPowerPreference = 'high-performance'): Promise<AdapterProbe> {
  const gpu = await gpuInstanceOrNull();
  if (!gpu) return { adapter: null, reason: dawnLoadError() };
  let adapter: GPUAdapter | null = null;
  try {
    // The first call enumerates the physical devices, synchronously, and Dawn prints its
    // limit notices then: keep them off the user's terminal unless asked for.
    adapter = await withDawnLogHidden(() => gpu.requestAdapter({ powerPreference }));
  } catch (err) {
    return { adapter: null, reason: `requestAdapter failed: ${(err as Error).message}` };
  }
  if (!adapter) {
    return {
      adapter: null,
      reason:
        'no WebGPU adapter: no GPU driver with Vulkan/Metal/D3D12 support was found. ' +
        'On Debian/Ubuntu without a GPU, scripts/install-software-gpu.sh installs Mesa lavapipe.',
    };
  }
  return { adapter };
}

/** Asks the device for every limit the adapter allows, and the features gnnrl uses. */
export function deviceDescriptor(adapter: GPUAdapter): GPUDeviceDescriptor {
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = (adapter.limits as unknown as Record<string, number>)[name];
  const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  return { requiredLimits, requiredFeatures, label: 'gnnrl' };
}
