// Weight layout conversions and padding arithmetic shared by the layer translators.

/** A weight tensor read from a tfjs layer. */
export interface Weight {
  data: Float32Array;
  shape: number[];
}

/** Keras Conv2D kernel [kh, kw, in, out] → ONNX Conv weight [out, in, kh, kw]. */
export function convKernelToOihw({ data, shape }: Weight): Weight {
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let h = 0; h < kh; h++) {
    for (let w = 0; w < kw; w++) {
      for (let i = 0; i < cin; i++) {
        const src = ((h * kw + w) * cin + i) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + h) * kw + w] = data[src + o]!;
      }
    }
  }
  return { data: out, shape: [cout, cin, kh, kw] };
}

/**
 * Keras depthwise kernel [kh, kw, in, multiplier] → grouped ONNX Conv weight
 * [in·multiplier, 1, kh, kw]; output channel c·multiplier + m, the order TensorFlow uses.
 */
export function depthwiseKernelToOihw({ data, shape }: Weight): Weight {
  const [kh, kw, cin, mult] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let h = 0; h < kh; h++) {
    for (let w = 0; w < kw; w++) {
      for (let c = 0; c < cin; c++) {
        for (let m = 0; m < mult; m++) out[((c * mult + m) * kh + h) * kw + w] = data[((h * kw + w) * cin + c) * mult + m]!;
      }
    }
  }
  return { data: out, shape: [cin * mult, 1, kh, kw] };
}

/**
 * TensorFlow's 'same' padding of one spatial axis: the output has ceil(size / stride) positions
 * and an odd total is padded one more at the end. Returns [before, after].
 */
export function samePadding(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const outSize = Math.ceil(size / stride);
  const total = Math.max((outSize - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * The ONNX `pads`/`auto_pad` attributes of a Keras 'valid' or 'same' window over [H, W]
 * (explicit pads when the sizes are known, else SAME_UPPER, which pads the same way).
 */
export function windowPadding(
  padding: string,
  spatial: (number | null)[],
  kernel: number[],
  strides: number[],
  dilations: number[] = [1, 1],
): Record<string, number[] | string> {
  if (padding !== 'same') return { pads: [0, 0, 0, 0] };
  const [h, w] = spatial;
  if (h == null || w == null) return { auto_pad: 'SAME_UPPER' };
  const [top, bottom] = samePadding(h, kernel[0]!, strides[0]!, dilations[0]!);
  const [left, right] = samePadding(w, kernel[1]!, strides[1]!, dilations[1]!);
  return { pads: [top, left, bottom, right] };
}

/** A number or [a, b] config value as a pair. */
export function pair(value: unknown, fallback?: number[]): number[] {
  if (value == null && fallback) return fallback;
  if (typeof value === 'number') return [value, value];
  return (value as number[]).slice();
}
